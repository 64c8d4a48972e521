// The listener's TLS key and certificate, read again when their files change (a certbot renewal
// replaces them) or on SIGHUP. New sessions get the new pair; sessions already in TLS keep theirs.
// A pair that does not load (a file unreadable or not PEM, a key that is not the certificate's, as
// when a renewal has written one file and not yet the other) is refused with an error in the log,
// and the pair in use stays; the next change is tried again.
import { readFile, stat } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { EVENTS } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import { PollingLoop } from '../loops/polling-loop.js';

export interface CertificateFiles {
  key: string;
  cert: string;
}

export interface CertificatePair {
  key: Buffer;
  cert: Buffer;
}

export class CertificateReloader {
  private readonly loop: PollingLoop;
  /** What the files looked like when last put into use (size, times, inode of each): a change reads them again. */
  private seen: string | undefined;
  /** What they looked like when they last failed to load: the failure is logged once, the reading tried at each look. */
  private refused: string | undefined;

  constructor(
    private readonly files: CertificateFiles,
    /** Puts a pair that loaded into use for new sessions. */
    private readonly apply: (pair: CertificatePair) => void,
    private readonly logger: Logger,
    intervalMs: number,
  ) {
    this.loop = new PollingLoop(() => this.check(), intervalMs);
  }

  /** Remembers the files as they are: call it before the listener reads them, so no change falls between. */
  async snapshot(): Promise<void> {
    this.seen = await this.look().catch(() => undefined);
  }

  /** Watches the files from now on. */
  async start(): Promise<void> {
    await this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Reads the pair now (SIGHUP); true when it was put into use. */
  async reload(reason: 'signal' | 'changed' = 'signal'): Promise<boolean> {
    const looked = await this.look().catch(() => undefined);
    try {
      const pair = { key: await readFile(this.files.key), cert: await readFile(this.files.cert) };
      // Throws for a bad PEM, and for a key that does not belong to the certificate.
      createSecureContext(pair);
      this.apply(pair);
      this.seen = looked;
      this.refused = undefined;
      const certificate = new X509Certificate(pair.cert);
      this.logger.info(
        { event: EVENTS.certificateReloaded, reason, subject: certificate.subject, validTo: certificate.validTo },
        'TLS certificate reloaded for new sessions',
      );
      return true;
    } catch (error) {
      // A renewal half written (or a rename under way) is read again at the next look; an error
      // is logged once for what the files look like now.
      if (looked !== undefined && looked === this.refused && reason === 'changed') return false;
      this.refused = looked;
      this.logger.error(
        { event: EVENTS.certificateRefused, reason, err: error, files: this.files },
        'TLS certificate not reloaded: the pair in use stays',
      );
      return false;
    }
  }

  private async check(): Promise<void> {
    const now = await this.look().catch(() => undefined);
    if (now !== undefined && now !== this.seen) await this.reload('changed');
  }

  /** Both files' size, change time and inode (through symbolic links, as certbot's live/ names are). */
  private async look(): Promise<string> {
    const [key, cert] = await Promise.all([stat(this.files.key), stat(this.files.cert)]);
    return [key, cert].map((file) => `${file.size}:${file.mtimeMs}:${file.ctimeMs}:${file.ino}`).join('|');
  }
}
