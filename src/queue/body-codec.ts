// How message bodies are kept in Redis: gzip'd at the fastest level, or as received; read back either way.
import { promisify } from 'node:util';
import { constants, gunzip, gunzipSync, gzip, gzipSync } from 'node:zlib';

/** gzip: queued and retained bodies take a third to a half of their size in Redis (text mail); none: as received. */
export type BodyCompression = 'gzip' | 'none';

/**
 * Bodies are written once and read once or twice: gzip's fastest level. On 100 KB of text it took
 * 0.7 ms of CPU against 4.1 ms at the default level 6, for output 17% larger.
 */
const GZIP_OPTIONS = { level: constants.Z_BEST_SPEED };

/**
 * Up to this size bodies are (de)compressed on the event loop: a zlib stream's set-up for the
 * thread pool costs more (about 100 µs of CPU) than compressing 5 KB (about 25 µs). Larger ones go
 * to the thread pool, so a big message does not stall the other sessions.
 */
const SYNC_MAX_BYTES = 32 * 1024;

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/**
 * The gzip a body was read from: what it costs in Redis (a retained copy is a copy of it), and
 * its compression again at no cost. Weak: it goes with the body.
 */
const compressedFrom = new WeakMap<Buffer, Buffer>();

export async function compress(body: Buffer): Promise<Buffer> {
  const known = compressedFrom.get(body);
  if (known) return known;
  return body.length <= SYNC_MAX_BYTES ? gzipSync(body, GZIP_OPTIONS) : gzipAsync(body, GZIP_OPTIONS);
}

/** The bytes a body read from Redis takes there: its gzip when it was stored gzip'd, else itself. */
export function storedSize(body: Buffer): number {
  return compressedFrom.get(body)?.length ?? body.length;
}

export async function decompress(stored: Buffer): Promise<Buffer> {
  const body = stored.length <= SYNC_MAX_BYTES ? gunzipSync(stored) : await gunzipAsync(stored);
  compressedFrom.set(body, stored);
  return body;
}

/**
 * A gzip stream starts with 1f 8b. A stored message never does: reception puts its Received:
 * header first, so a body tells by itself how it was stored, whatever the setting was then.
 */
export function isCompressed(stored: Buffer): boolean {
  return stored.length >= 2 && stored[0] === 0x1f && stored[1] === 0x8b;
}

export async function encodeBody(body: Buffer, compression: BodyCompression): Promise<Buffer> {
  return compression === 'gzip' ? compress(body) : body;
}

/** The message as received, from a body stored either way. */
export async function decodeBody(stored: Buffer): Promise<Buffer> {
  return isCompressed(stored) ? decompress(stored) : stored;
}
