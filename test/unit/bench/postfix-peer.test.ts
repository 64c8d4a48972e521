// Unit tests for the Postfix peer's configuration (bench/postfix.ts): what it says, and that Postfix's
// own postconf reads it without complaint.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostfixSettings, postfixMainCf, postfixMasterCf, postfixPaths } from '../../../bench/postfix.js';

const dir = mkdtempSync(join(tmpdir(), 'holdfast-postfix-peer-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const settings: PostfixSettings = { dir, port: 40_025, sinkPort: 40_024, processLimit: 150, lmtpConcurrency: 20 };
const paths = postfixPaths(dir);

/** postconf -c on the generated files. */
function postconf(...args: string[]): { stdout: string; stderr: string } {
  const result = spawnSync('/usr/sbin/postconf', ['-c', paths.config, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`postconf ${args.join(' ')}: ${result.stderr}`);
  return { stdout: result.stdout, stderr: result.stderr };
}

describe('the Postfix peer configuration', () => {
  beforeAll(() => {
    mkdirSync(paths.config, { recursive: true });
    writeFileSync(join(paths.config, 'main.cf'), postfixMainCf(settings));
    writeFileSync(join(paths.config, 'master.cf'), postfixMasterCf(settings));
  });

  it('keeps the queue, data and log inside the instance directory', () => {
    const values = postconf('-h', 'queue_directory', 'data_directory', 'maillog_file').stdout.trim().split('\n');
    expect(values).toEqual([paths.queue, paths.data, paths.log]);
  });

  it('relays example.com to the sink over LMTP and delivers nothing locally', () => {
    const values = postconf('-h', 'relay_domains', 'relay_transport', 'mydestination', 'local_transport').stdout;
    expect(values.trim().split('\n')).toEqual([
      'example.com',
      'lmtp:inet:127.0.0.1:40024',
      '',
      'error:local delivery is disabled',
    ]);
  });

  it('is tuned for the load: process limit, LMTP concurrency, no client limits, no in_flow_delay', () => {
    const names = [
      'default_process_limit',
      'lmtp_destination_concurrency_limit',
      'smtpd_client_connection_count_limit',
      'smtpd_client_connection_rate_limit',
      'in_flow_delay',
    ];
    expect(
      postconf('-h', ...names)
        .stdout.trim()
        .split('\n'),
    ).toEqual(['150', '20', '0', '0', '0']);
  });

  it('names no parameter that Postfix does not know', () => {
    expect(postconf('-n').stderr).not.toContain('unused parameter');
  });

  it('listens for SMTP on 127.0.0.1 at the given port, and chroots no daemon', () => {
    const services = postconf('-M').stdout.trim().split('\n');
    expect(services[0]).toMatch(/^127\.0\.0\.1:40025\s+inet\s+n\s+-\s+n\s+-\s+-\s+smtpd$/);
    expect(services.filter((line) => line.split(/\s+/)[4] !== 'n')).toEqual([]);
    expect(services.map((line) => line.split(/\s+/)[0])).toEqual(
      expect.arrayContaining(['cleanup', 'qmgr', 'rewrite', 'lmtp', 'postlog']),
    );
  });
});
