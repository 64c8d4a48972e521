// Scenario: an operator runs `holdfast start` in a terminal with its managed Redis and presses Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { SmtpDialog } from '../helpers/smtp-client.js';
import { isRunning, waitFor } from '../helpers/wait.js';

describe('Ctrl-C in the terminal running holdfast start', () => {
  let directory: string;
  let holdfast: ChildProcess | undefined;
  let output = '';
  let redisPid: number | undefined;
  let smtpPort = 0;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'holdfast-ctrl-c-'));
    const config = join(directory, 'holdfast.yaml');
    writeFileSync(
      config,
      [
        `listener: { host: 127.0.0.1, port: ${(smtpPort = await freePort())}, hostname: mx.test }`,
        'domains: { example.com: { mailstore: store1 } }',
        `mailstores: { store1: { endpoints: ['127.0.0.1:${await freePort()}'] } }`,
        `redis: { embedded: { dir: ${join(directory, 'redis')} } }`,
        'admin: { enabled: false }',
        'shutdown: { grace: 3s }',
      ].join('\n'),
    );
    // Its own process group, as a shell gives a foreground job: the terminal's SIGINT goes to the whole group.
    holdfast = spawn(process.execPath, ['bin/holdfast.js', 'start', '--config', config], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    holdfast.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    holdfast.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(() => output.includes('"msg":"ready"'), 30_000, 'holdfast ready');
    redisPid = Number(readFileSync(join(directory, 'redis', 'redis.pid'), 'utf8'));
  });

  afterAll(() => {
    for (const pid of [holdfast?.pid, redisPid]) if (pid && isRunning(pid)) process.kill(pid, 'SIGKILL');
    rmSync(directory, { recursive: true, force: true });
  });

  it('stops Holdfast and then its Redis, without restarting Redis on the way', async () => {
    expect(isRunning(redisPid!)).toBe(true);
    // A transaction still open makes the stop wait its grace: time enough for a Redis killed by the
    // same Ctrl-C to be restarted, were it in the terminal's process group too.
    const { dialog } = await SmtpDialog.open(smtpPort);
    await dialog.command('EHLO client.test');
    expect(await dialog.command('MAIL FROM:<sender@remote.test>')).toMatch(/^250/);
    const exited = new Promise<number | null>((resolve) => holdfast!.once('exit', (code) => resolve(code)));
    process.kill(-holdfast!.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    dialog.close();
    expect(isRunning(redisPid!)).toBe(false);
    expect(output).not.toContain('embedded redis exited; restarting');
  });
});
