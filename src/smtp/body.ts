// Collects a message's bytes during DATA: in memory up to a threshold, beyond it streamed into Redis
// chunk by chunk as they arrive, so that one session holds about `threshold` bytes whatever the size.

/** Where the bytes beyond the threshold go (queue/incoming.ts behind the context). */
export interface IncomingBytes {
  append(chunk: Buffer): Promise<void>;
  discard(): Promise<void>;
}

/** How much of the message's start stays in memory once the rest is spooled (for its header fields). */
const KEPT_START = 64 * 1024;

export interface BodyLimits {
  /** Bytes held in memory before they are written to the spool. */
  threshold: number;
  /** The size limit: bytes past it are not kept (smtp-server answers 552 at the end). */
  maxSize: number;
}

export class BodyCollector {
  private chunks: Buffer[];
  private buffered: number;
  private received = 0;
  private spooledBytes = 0;
  private failure: unknown;
  private keptStart = Buffer.alloc(0);
  private overflow = false;

  /** `head` (the Received header) comes first and does not count toward the size limit. */
  constructor(
    head: Buffer,
    private readonly limits: BodyLimits,
    private readonly incoming: IncomingBytes,
  ) {
    this.chunks = [head];
    this.buffered = head.length;
  }

  /**
   * Takes the next chunk. Returns a promise when the chunk filled the buffer and it is being
   * written to the spool: the caller stops reading until it settles (backpressure to the client).
   */
  add(chunk: Buffer): Promise<void> | undefined {
    this.received += chunk.length;
    if (this.received > this.limits.maxSize) this.overflow = true;
    if (this.overflow || this.failure !== undefined) return undefined;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.limits.threshold) return undefined;
    const data = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    if (this.keptStart.length < KEPT_START) {
      this.keptStart = Buffer.concat([this.keptStart, data.subarray(0, KEPT_START - this.keptStart.length)]);
    }
    return this.incoming.append(data).then(
      () => {
        this.spooledBytes += data.length;
      },
      (error: unknown) => {
        this.failure = error;
      },
    );
  }

  /** True once more than the size limit arrived: what was kept is not the whole message. */
  get overflowed(): boolean {
    return this.overflow;
  }

  /** Why writing to the spool failed, if it did: the message cannot be committed. */
  get failed(): unknown {
    return this.failure;
  }

  /** Bytes already in the spool. */
  get spooled(): number {
    return this.spooledBytes;
  }

  /** The bytes still in memory: all of the message when nothing was spooled, else its last part. */
  rest(): Buffer {
    return Buffer.concat(this.chunks, this.buffered);
  }

  /** The message's first bytes (64 KiB at least, when it has them): where its header fields are. */
  start(): Buffer {
    if (this.keptStart.length >= KEPT_START) return this.keptStart;
    return Buffer.concat([this.keptStart, this.rest()]);
  }

  /** Drops what went to the spool, for a message that is not committed. */
  async discard(): Promise<void> {
    if (this.spooledBytes > 0 || this.failure !== undefined) await this.incoming.discard();
  }
}
