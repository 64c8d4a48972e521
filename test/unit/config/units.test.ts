// Unit tests for the config file's human units: durations, sizes and retry schedules.
import { describe, expect, it } from 'vitest';
import { parseDuration, parseRetrySchedule, parseSize } from '../../../src/config/units.js';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['5d', 432_000_000],
    ['1.5s', 1500],
    [' 10S ', 10_000],
    ['0s', 0],
  ])('reads %j as %d milliseconds', (text, milliseconds) => {
    expect(parseDuration(text)).toBe(milliseconds);
  });

  it('takes a bare number as milliseconds', () => {
    expect(parseDuration(1234)).toBe(1234);
  });

  it.each(['', 'soon', '5', '5w', '-1s', '1.s', 's', '5 m s'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('refuses the number %d', (value) => {
    expect(parseDuration(value)).toBeUndefined();
  });
});

describe('parseSize', () => {
  it.each([
    ['50mb', 50 * 1024 * 1024],
    ['50MB', 50 * 1024 * 1024],
    ['512kb', 512 * 1024],
    ['4gb', 4 * 1024 ** 3],
    ['100b', 100],
    ['100', 100],
    ['1.5kb', 1536],
  ])('reads %j as %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it('takes a bare integer as bytes', () => {
    expect(parseSize(2048)).toBe(2048);
  });

  it.each(['', 'big', '5tb', '-1kb', 'mb'])('refuses %j', (text) => {
    expect(parseSize(text)).toBeUndefined();
  });

  it.each([-1, 1.5, Number.NaN])('refuses the number %d', (value) => {
    expect(parseSize(value)).toBeUndefined();
  });
});

describe('parseRetrySchedule', () => {
  it('expands repeated steps in order', () => {
    expect(parseRetrySchedule('1m,5m*2,1h*3')).toEqual([60_000, 300_000, 300_000, 3_600_000, 3_600_000, 3_600_000]);
  });

  it('reads a single step', () => {
    expect(parseRetrySchedule('30s')).toEqual([30_000]);
  });

  it('allows spaces around commas and stars', () => {
    expect(parseRetrySchedule(' 1m , 5m * 2 ')).toEqual([60_000, 300_000, 300_000]);
  });

  it.each([
    ['an empty text', ''],
    ['an empty step', '1m,,5m'],
    ['a trailing comma', '1m,'],
    ['a star without a count', '1m*'],
    ['a count of zero', '1m*0'],
    ['a count over 1000', '1m*1001'],
    ['a zero interval', '0s'],
    ['an interval without a unit', '60'],
    ['an unknown unit', '1w'],
    ['a negative count', '1m*-2'],
  ])('refuses %s', (_description, text) => {
    expect(parseRetrySchedule(text)).toBeUndefined();
  });
});
