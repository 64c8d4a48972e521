// Queue ids: sortable by arrival time, unique across nodes, safe as BullMQ job ids (no ':').
import { randomFillSync } from 'node:crypto';
import { wallClock } from '../clock.js';

const ALPHABET = '0123456789BCDFGHJKLMNPQRSTVWXYZ'; // no vowels: ids never spell words

/** 9 characters of milliseconds since the epoch (base 31) then 8 random ones: e.g. "1KQ7ZD3TBX4H2MPV9". */
export function newQueueId(now: number = wallClock()): string {
  let time = '';
  let rest = Math.floor(now);
  for (let index = 0; index < 9; index++) {
    time = ALPHABET[rest % ALPHABET.length]! + time;
    rest = Math.floor(rest / ALPHABET.length);
  }
  let random = '';
  for (const byte of randomPart()) random += ALPHABET[byte % ALPHABET.length];
  return time + random;
}

/**
 * Random bytes are drawn 4 KB at a time (512 ids): a small randomBytes call costs a trip into
 * the crypto binding each time, about 1 % of a message's CPU in the benchmark's profile.
 */
const pool = Buffer.alloc(4096);
let used = pool.length;

function randomPart(): Buffer {
  if (used + 8 > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += 8;
  return pool.subarray(used - 8, used);
}
