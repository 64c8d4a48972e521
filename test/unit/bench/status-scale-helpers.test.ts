// Unit tests for the helpers of bench/status-scale.ts: Redis INFO and MEMORY STATS, payloads, latencies.
import { describe, expect, it } from 'vitest';
import { latencies } from '../../../bench/call-timing.js';
import { memoryStatsField, parseInfo } from '../../../bench/redis-memory.js';
import { messagePayload } from '../../../bench/scale-load.js';

describe('parseInfo', () => {
  it('reads the numeric fields of an INFO section and leaves out headings and text', () => {
    const text = ['# Persistence', 'aof_rewrites:3', 'aof_last_bgrewrite_status:ok', 'latest_fork_usec:323863', ''];
    const fields = parseInfo(text.join('\r\n'));
    expect(Object.fromEntries(fields)).toEqual({ aof_rewrites: 3, latest_fork_usec: 323_863 });
  });
});

describe('memoryStatsField', () => {
  const stats = ['peak.allocated', 939_424, 'db.0', ['overhead.hashtable.main', 48_192], 'keys.count', 1000];

  it('finds a field at the top level and inside a nested list such as db.0', () => {
    expect(memoryStatsField(stats, 'keys.count')).toBe(1000);
    expect(memoryStatsField(stats, 'overhead.hashtable.main')).toBe(48_192);
  });

  it('is NaN for a field MEMORY STATS does not have', () => {
    expect(memoryStatsField(stats, 'no.such.field')).toBeNaN();
  });
});

describe('messagePayload', () => {
  const headersOnly = messagePayload(0, 'random').length;

  it('adds exactly the asked size of random base64 lines, no longer than 78 bytes with CRLF', () => {
    for (const size of [5120, 78, 100]) {
      const payload = messagePayload(size, 'random');
      expect(payload.length - headersOnly).toBe(size);
      const lines = payload.subarray(headersOnly).toString('latin1').split('\r\n').slice(0, -1);
      expect(lines.every((line) => line.length <= 76 && /^[A-Za-z0-9+/]+$/.test(line))).toBe(true);
    }
  });

  it('has no final dot: it is the message as the DATA stage receives it', () => {
    for (const kind of ['random', 'text'] as const) {
      expect(messagePayload(5120, kind).toString('latin1').endsWith('.\r\n')).toBe(false);
    }
  });
});

describe('latencies', () => {
  it('gives nearest-rank percentiles, the maximum and the mean', () => {
    const samples = Array.from({ length: 100 }, (_, index) => index + 1);
    expect(latencies(samples)).toEqual({ calls: 100, p50: 50, p99: 99, max: 100, mean: 50.5 });
  });
});
