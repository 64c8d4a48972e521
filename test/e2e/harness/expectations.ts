// What every outage scenario must show, and how many duplicates a crash may cause.
import { expect } from 'vitest';
import type { Figures } from './checker.js';
import { STORE_CONCURRENCY, STORE_COUNT } from './site.js';

/**
 * At-least-once: a delivery the store accepted but Holdfast had not recorded when it (or its Redis)
 * died is made again. Only attempts running at that moment can be in that state: at most each
 * store's concurrency per node, one mailbox per job (test messages have one recipient per store).
 */
export const CRASH_DUPLICATE_BOUND = STORE_COUNT * STORE_CONCURRENCY;

/** Nothing lost, misrouted, bounced or cut short; every message taken in the end; duplicates within the bound. */
export function expectNoHarm(figures: Figures, maxDuplicates: number): void {
  expect(figures.details.lost).toEqual([]);
  expect(figures.details.misrouted).toEqual([]);
  expect(figures.details.bounced).toEqual([]);
  expect(figures.details.damaged).toEqual([]);
  expect(figures.acknowledged).toBe(figures.sent);
  expect(figures.duplicated).toBeLessThanOrEqual(maxDuplicates);
}
