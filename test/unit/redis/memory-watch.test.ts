// Unit tests for reading Redis INFO memory output.
import { describe, expect, it } from 'vitest';
import { parseMemoryInfo } from '../../../src/redis/memory-watch.js';

const INFO = [
  '# Memory',
  'used_memory:1048576',
  'used_memory_human:1.00M',
  'used_memory_rss:9999999',
  'used_memory_peak:2097152',
  'maxmemory:4294967296',
  'maxmemory_human:4.00G',
  'maxmemory_policy:noeviction',
  '',
].join('\r\n');

describe('parseMemoryInfo', () => {
  it('reads used_memory and maxmemory, not the fields that start with the same name', () => {
    expect(parseMemoryInfo(INFO)).toEqual({ usedBytes: 1_048_576, maxBytes: 4_294_967_296 });
  });

  it('reads the fields in any order', () => {
    expect(parseMemoryInfo('maxmemory:200\nused_memory_rss:7\nused_memory:100\n')).toEqual({
      usedBytes: 100,
      maxBytes: 200,
    });
  });

  it('reads a missing field as zero', () => {
    expect(parseMemoryInfo('# Memory\r\nused_memory_rss:5\r\n')).toEqual({ usedBytes: 0, maxBytes: 0 });
  });

  it('reads no maxmemory limit as zero', () => {
    expect(parseMemoryInfo('used_memory:10\r\nmaxmemory:0\r\n')).toEqual({ usedBytes: 10, maxBytes: 0 });
  });
});
