// Unit tests for the watchdog's verdict on a worker: wedged, or only idle, busy or restrained.
import { describe, expect, it } from 'vitest';
import { looksWedged, type QueueSample } from '../../../src/loops/consumer-watchdog.js';

const sample = (overrides: Partial<QueueSample> = {}): QueueSample => ({
  due: 3,
  restrained: false,
  started: 10,
  running: 0,
  ...overrides,
});

describe('looksWedged', () => {
  it('says wedged when mail stayed due and the worker took none of it and runs nothing', () => {
    expect(looksWedged(sample(), sample())).toBe(true);
  });

  it('needs two looks: one alone proves nothing', () => {
    expect(looksWedged(undefined, sample())).toBe(false);
  });

  it('leaves a worker alone that took a job in between', () => {
    expect(looksWedged(sample(), sample({ started: 11 }))).toBe(false);
  });

  it('leaves a worker alone while an attempt of it runs', () => {
    expect(looksWedged(sample(), sample({ running: 1 }))).toBe(false);
  });

  it('leaves a worker alone when nothing was due at either look', () => {
    expect(looksWedged(sample({ due: 0 }), sample())).toBe(false);
    expect(looksWedged(sample(), sample({ due: 0 }))).toBe(false);
  });

  it('leaves a held, rate-limited or saturated queue alone', () => {
    expect(looksWedged(sample({ restrained: true }), sample())).toBe(false);
    expect(looksWedged(sample(), sample({ restrained: true }))).toBe(false);
  });
});
