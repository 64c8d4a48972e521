// Sends DSNs through the configured smarthost, from the null sender so they can never loop.
import nodemailer from 'nodemailer';
import type { Config } from '../config/schema.js';

export interface BounceSender {
  send(recipient: string, dsn: Buffer): Promise<void>;
  close(): void;
}

export function createBounceSender(config: Config): BounceSender | undefined {
  const smarthost = config.bounces.smarthost;
  if (!smarthost) return undefined;
  const transport = nodemailer.createTransport({
    host: smarthost.host,
    port: smarthost.port,
    pool: true,
    maxConnections: 2,
    name: config.listener.hostname,
    secure: false,
    ignoreTLS: true,
    connectionTimeout: 10_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
  });
  return {
    async send(recipient, dsn) {
      await transport.sendMail({ envelope: { from: '', to: [recipient] }, raw: dsn });
    },
    close: () => transport.close(),
  };
}
