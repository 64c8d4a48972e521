// Queue ids: sortable by arrival time, unique across nodes, safe as BullMQ job ids (no ':').
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789BCDFGHJKLMNPQRSTVWXYZ'; // no vowels: ids never spell words

/** 9 characters of milliseconds since the epoch (base 31) then 8 random ones: e.g. "1KQ7ZD3TBX4H2MPV9". */
export function newQueueId(now: number = Date.now()): string {
  let time = '';
  let rest = Math.floor(now);
  for (let index = 0; index < 9; index++) {
    time = ALPHABET[rest % ALPHABET.length]! + time;
    rest = Math.floor(rest / ALPHABET.length);
  }
  const random = Array.from(randomBytes(8), (byte) => ALPHABET[byte % ALPHABET.length]).join('');
  return time + random;
}
