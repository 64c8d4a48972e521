// Unit tests for moving a store's mail to another store, and where mail for a store goes.
import { describe, expect, it } from 'vitest';
import { destinationOf, moveProblem, type StoreOverrides } from '../../../src/policy/store-move.js';

const known = new Set(['store1', 'store2', 'store3']);
const none = new Map<string, StoreOverrides>();

describe('moving a store', () => {
  it('is allowed between two known stores', () => {
    expect(moveProblem('store1', 'store2', none, known)).toBeUndefined();
  });

  it('is refused onto itself, to or from an unknown store, and twice to the same store', () => {
    expect(moveProblem('store1', 'store1', none, known)).toMatch(/itself/);
    expect(moveProblem('store1', 'store9', none, known)).toMatch(/unknown mailstore "store9"/);
    expect(moveProblem('store9', 'store1', none, known)).toMatch(/unknown mailstore "store9"/);
    expect(moveProblem('store1', 'store2', new Map([['store1', { movedTo: 'store2' }]]), known)).toMatch(/already/);
  });

  it('is refused onto a store that is itself moved: no chains, no cycles', () => {
    const moved = new Map([['store2', { movedTo: 'store1' }]]);
    expect(moveProblem('store1', 'store2', moved, known)).toMatch(/store2 is itself moved to store1/);
  });

  it('sends mail for a moved store to its destination, and other mail home', () => {
    const moved = new Map([['store1', { movedTo: 'store2' }]]);
    expect(destinationOf('store1', moved)).toBe('store2');
    expect(destinationOf('store3', moved)).toBe('store3');
    expect(destinationOf('store1', new Map([['store1', { endpoints: ['a:1'] }]]))).toBe('store1');
  });
});
