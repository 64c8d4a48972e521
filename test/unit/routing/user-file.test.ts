// Unit tests for reading routing files: "address,mailstore" lines, comments, and numbered problems.
import { describe, expect, it } from 'vitest';
import { parseRouteLines } from '../../../src/routing/user-file.js';

describe('parseRouteLines', () => {
  it('reads comma, semicolon, tab and space separated lines', () => {
    const text = ['a@example.com,store1', 'b@example.com;store2', 'c@example.com\tstore3', 'd@example.com  store4'];
    expect(parseRouteLines(text.join('\n'), 'users.csv')).toEqual({
      entries: [
        { address: 'a@example.com', mailstore: 'store1' },
        { address: 'b@example.com', mailstore: 'store2' },
        { address: 'c@example.com', mailstore: 'store3' },
        { address: 'd@example.com', mailstore: 'store4' },
      ],
      problems: [],
    });
  });

  it('lowercases the address but keeps the mailstore id as written', () => {
    const { entries } = parseRouteLines('Alice@Example.COM,Store1', 'users.csv');
    expect(entries).toEqual([{ address: 'alice@example.com', mailstore: 'Store1' }]);
  });

  it('skips blank lines, comment lines and trailing comments', () => {
    const text = '# address,mailstore\n\n   \na@example.com , store1 # the first\r\n';
    expect(parseRouteLines(text, 'users.csv')).toEqual({
      entries: [{ address: 'a@example.com', mailstore: 'store1' }],
      problems: [],
    });
  });

  it('names the source and line number of each malformed line', () => {
    const text = ['a@example.com,store1', 'no-at-sign,store1', '', 'b@example.com,store1,extra', 'c@example.com,'];
    const { entries, problems } = parseRouteLines(text.join('\r\n'), 'users.csv');
    expect(entries).toEqual([{ address: 'a@example.com', mailstore: 'store1' }]);
    expect(problems).toEqual([
      'users.csv:2: expected "address,mailstore", got "no-at-sign,store1"',
      'users.csv:4: expected "address,mailstore", got "b@example.com,store1,extra"',
      'users.csv:5: expected "address,mailstore", got "c@example.com,"',
    ]);
  });

  it('refuses a line with an address but no mailstore', () => {
    expect(parseRouteLines('a@example.com', 'users.csv').problems).toEqual([
      'users.csv:1: expected "address,mailstore", got "a@example.com"',
    ]);
  });

  it('reads an empty file as no entries', () => {
    expect(parseRouteLines('', 'users.csv')).toEqual({ entries: [], problems: [] });
  });
});
