// Scenario: `holdfast start` delivers in processes of its own (workers.processes), which it keeps running and stops first.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { send } from '../helpers/smtp-client.js';
import { isRunning, waitFor } from '../helpers/wait.js';

/** The processes whose parent is `pid` and that run `holdfast start`. */
function deliveryProcesses(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
        return parent === pid && command.includes('holdfast.js') ? [Number(entry)] : [];
      } catch {
        return []; // gone meanwhile
      }
    });
}

describe('holdfast start with two delivery processes', () => {
  let redis: TestRedis;
  const store = new FakeMailstore();
  let directory: string;
  let holdfast: ChildProcess;
  let output = '';
  let smtpPort = 0;
  let adminPort = 0;
  const leftovers: number[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    directory = mkdtempSync(join(tmpdir(), 'holdfast-processes-'));
    const config = join(directory, 'holdfast.yaml');
    smtpPort = await freePort();
    adminPort = await freePort();
    writeFileSync(
      config,
      [
        `listener: { host: 127.0.0.1, port: ${smtpPort}, hostname: mx.test }`,
        `admin: { port: ${adminPort} }`,
        'domains: { example.com: { mailstore: store1, rejectUnknownUsers: false } }',
        `mailstores: { store1: { endpoints: ['127.0.0.1:${await store.start()}'], protocol: lmtp } }`,
        `redis: { url: '${redis.url}' }`,
        'workers: { processes: 2 }',
        'shutdown: { grace: 3s }',
      ].join('\n'),
    );
    holdfast = spawn(process.execPath, ['bin/holdfast.js', 'start', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    holdfast.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    holdfast.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(
      () => (output.match(/"msg":"ready"/g) ?? []).length === 3,
      30_000,
      'the main process and both delivery processes ready',
    );
  });

  afterAll(async () => {
    for (const pid of [holdfast?.pid, ...leftovers]) if (pid && isRunning(pid)) process.kill(pid, 'SIGKILL');
    await store.stop();
    await redis?.cleanup();
    rmSync(directory, { recursive: true, force: true });
  });

  const delivered = () => store.delivered('alice@example.com').length;

  it('delivers through them, and its /metrics adds up what they counted', async () => {
    expect(deliveryProcesses(holdfast.pid!)).toHaveLength(2);
    for (let message = 0; message < 6; message++) {
      await send(smtpPort, 'sender@remote.test', ['alice@example.com'], `split ${message}`);
    }
    await waitFor(() => delivered() === 6, 10_000, 'six deliveries');
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    expect(metrics).toContain('holdfast_delivery_recipients_total{mailstore="store1",outcome="delivered"} 6');
    expect(metrics).toContain('holdfast_smtp_replies_total{stage="data",code="250"} 6');
    // Gauges come once, from the main process: not doubled by the delivery processes.
    expect(metrics).toContain('holdfast_mailstore_state{mailstore="store1",state="open"} 1');
  });

  it("answers an operator's probe from the main process, where the admin API is", async () => {
    const response = await fetch(`http://127.0.0.1:${adminPort}/api/v1/stores/store1/probe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ answered: true });
  });

  it('starts a delivery process again when it dies, and mail keeps flowing', async () => {
    const [victim, survivor] = deliveryProcesses(holdfast.pid!);
    process.kill(victim!, 'SIGKILL');
    await waitFor(() => output.includes('"event":"DeliveryProcessExited"'), 10_000, 'the exit noticed');
    await waitFor(
      () =>
        deliveryProcesses(holdfast.pid!)
          .filter((pid) => pid !== survivor)
          .some((pid) => pid !== victim),
      10_000,
      'a new delivery process',
    );
    await waitFor(() => (output.match(/"msg":"ready"/g) ?? []).length === 4, 30_000, 'the new one ready');
    await send(smtpPort, 'sender@remote.test', ['alice@example.com'], 'after the restart');
    await waitFor(() => delivered() === 7, 10_000, 'the seventh delivery');
  });

  it('takes SIGHUP (what reads the TLS certificate again) in every process without dying', async () => {
    const children = deliveryProcesses(holdfast.pid!);
    for (const pid of [holdfast.pid!, ...children]) process.kill(pid, 'SIGHUP');
    await waitFor(() => (output.match(/"signal":"SIGHUP"/g) ?? []).length === 3, 10_000, 'SIGHUP in all three');
    expect([holdfast.pid!, ...children].filter(isRunning)).toHaveLength(3);
    await send(smtpPort, 'sender@remote.test', ['alice@example.com'], 'after SIGHUP');
    await waitFor(() => delivered() === 8, 10_000, 'the eighth delivery');
  });

  it('stops its delivery processes, then itself, on SIGTERM', async () => {
    const children = deliveryProcesses(holdfast.pid!);
    leftovers.push(...children);
    const exited = new Promise<number | null>((resolve) => holdfast.once('exit', (code) => resolve(code)));
    holdfast.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(children.filter(isRunning)).toEqual([]);
    const stopped = output.split('\n').filter((line) => line.includes('"event":"Stopped"'));
    expect(stopped, output).toHaveLength(3);
    // The main process's own line, the one without a process name, is the last.
    expect(stopped.at(-1)).not.toContain('"process"');
  });
});

describe('a delivery process whose main process is killed', () => {
  let redis: TestRedis;
  let directory: string;
  let holdfast: ChildProcess;
  let output = '';
  const leftovers: number[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    directory = mkdtempSync(join(tmpdir(), 'holdfast-orphan-'));
    const config = join(directory, 'holdfast.yaml');
    writeFileSync(
      config,
      [
        `listener: { host: 127.0.0.1, port: ${await freePort()}, hostname: mx.test }`,
        'admin: { enabled: false }',
        'domains: { example.com: { mailstore: store1 } }',
        `mailstores: { store1: { endpoints: ['127.0.0.1:${await freePort()}'] } }`,
        `redis: { url: '${redis.url}' }`,
        'shutdown: { grace: 3s }',
      ].join('\n'),
    );
    holdfast = spawn(process.execPath, ['bin/holdfast.js', 'start', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    holdfast.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(() => (output.match(/"msg":"ready"/g) ?? []).length === 2, 30_000, 'both processes ready');
  });

  afterAll(async () => {
    for (const pid of [holdfast?.pid, ...leftovers]) if (pid && isRunning(pid)) process.kill(pid, 'SIGKILL');
    await redis?.cleanup();
    rmSync(directory, { recursive: true, force: true });
  });

  it('stops by itself: none is left behind (workers.processes defaults to one)', async () => {
    const children = deliveryProcesses(holdfast.pid!);
    expect(children).toHaveLength(1);
    leftovers.push(...children);
    holdfast.kill('SIGKILL');
    await waitFor(() => children.every((pid) => !isRunning(pid)), 15_000, 'the delivery process gone');
    expect(output).toContain('"signal":"main process gone"');
  });
});
