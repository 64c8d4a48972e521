// Redis command time per message on each shard of a Redis Cluster, with the load on one store and
// spread over six, beside one single Redis under the same load (`npm run bench:cluster`).
//
// Holdfast runs in this process (the test harness's relay, its defaults: trace, retention and the
// 5xx guard on) with six in-process LMTP stores; the Cluster is the test harness's (3 primaries,
// 3 replicas, AOF with appendfsync always). Each pass sends BENCH_MESSAGES (default 2,000) 5 KB
// messages from 20 sessions (BENCH_REPLICAS=0: a Cluster without replicas), one connection each, waits until all are delivered, and reads INFO
// commandstats on every primary (reset before the pass; 200 messages warm each setup first).
// On this 2-core machine everything shares the cores: command time, not throughput, is the measure.
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeMailstore } from '../test/helpers/mailstore.js';
import { startTestCluster } from '../test/helpers/redis-cluster.js';
import { startTestRedis } from '../test/helpers/redis-server.js';
import { startRelay, testConfig, type TestRelay } from '../test/helpers/relay.js';
import { sendRaw, testMessage } from '../test/helpers/smtp-client.js';
import { RedisCommandCounter } from './redis-commands.js';

const STORES = ['store1', 'store2', 'store3', 'store4', 'store5', 'store6'];
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const SESSIONS = 20;
/** Replicas per primary of the Cluster (BENCH_REPLICAS, default 1). */
const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 1);
const BODY = testMessage('cluster bench', 5120);

interface PassFigures {
  pass: string;
  /** Per primary (port): commands and µs of command time per message of the whole pass. */
  shards: Array<{ port: number; commands: number; usec: number; top: string }>;
}

async function sendAll(relay: TestRelay, recipients: readonly string[], count: number): Promise<void> {
  let next = 0;
  const session = async () => {
    while (next < count) {
      const index = next++;
      const to = recipients[index % recipients.length]!;
      const replies = await sendRaw(relay.port, 'bench@example.org', [to], BODY);
      if (!replies.at(-1)!.startsWith('250')) throw new Error(`not accepted: ${replies.at(-1)}`);
    }
  };
  await Promise.all(Array.from({ length: SESSIONS }, session));
}

async function delivered(stores: Record<string, FakeMailstore>, total: number): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (STORES.reduce((sum, id) => sum + stores[id]!.messages.length, 0) < total) {
    if (Date.now() > deadline) throw new Error('not all delivered in 5 minutes');
    await sleep(50);
  }
}

async function measure(
  label: string,
  primaries: number[],
  relay: TestRelay,
  stores: Record<string, FakeMailstore>,
  recipients: readonly string[],
): Promise<PassFigures> {
  const before = STORES.reduce((sum, id) => sum + stores[id]!.messages.length, 0);
  const counters = primaries.map((port) => new RedisCommandCounter(`redis://127.0.0.1:${port}`));
  await Promise.all(counters.map((counter) => counter.start()));
  await sendAll(relay, recipients, MESSAGES);
  await delivered(stores, before + MESSAGES);
  await sleep(1000); // the last finishes and trace writes
  const figures = await Promise.all(counters.map((counter) => counter.stop(MESSAGES)));
  counters.forEach((counter) => counter.close());
  return {
    pass: label,
    shards: figures.map((figure, index) => ({
      port: primaries[index]!,
      commands: figure.commandsPerMessage,
      usec: figure.usecPerMessage,
      top: [...figure.byCommand]
        .sort((a, b) => b.usec - a.usec)
        .slice(0, 6)
        .map((stat) => `${stat.command} ${stat.calls.toFixed(2)}/${stat.usec.toFixed(0)}µs`)
        .join(', '),
    })),
  };
}

async function run(kind: 'cluster' | 'single'): Promise<PassFigures[]> {
  const stores = Object.fromEntries(STORES.map((id) => [id, new FakeMailstore()]));
  const ports: Record<string, number> = {};
  for (const id of STORES) ports[id] = await stores[id]!.start();
  const users = Object.fromEntries(STORES.map((id) => [`${id}@example.com`, id]));
  const cluster = kind === 'cluster' ? await startTestCluster({ replicasPerPrimary: REPLICAS }) : undefined;
  const single = kind === 'single' ? await startTestRedis() : undefined;
  const config = testConfig(single?.url, ports, {
    routing: { users },
    log: { level: 'warn' },
    limits: { connections: { perIp: 1000, ratePerIp: 100_000, messageRatePerIp: 100_000 } },
    ...(cluster ? { redis: { cluster: { nodes: cluster.startupNodes } } } : {}),
  });
  const relay = await startRelay(config);
  try {
    const primaries = cluster ? cluster.primaries().map((node) => node.port) : [single!.port];
    await sendAll(relay, Object.keys(users), 200);
    await delivered(stores, 200);
    return [
      await measure(`${kind}, one store`, primaries, relay, stores, ['store1@example.com']),
      await measure(`${kind}, six stores`, primaries, relay, stores, Object.keys(users)),
    ];
  } finally {
    await relay.app.stop();
    await Promise.all(STORES.map((id) => stores[id]!.stop()));
    await cluster?.cleanup();
    await single?.cleanup();
  }
}

const passes = [...(await run('single')), ...(await run('cluster'))];
console.log(`${MESSAGES} messages of 5 KB a pass, ${SESSIONS} sessions; per message of the pass, on each primary:`);
for (const { pass, shards } of passes) {
  const total = shards.reduce(
    (sum, shard) => ({ commands: sum.commands + shard.commands, usec: sum.usec + shard.usec }),
    {
      commands: 0,
      usec: 0,
    },
  );
  const each = shards.map((shard) => `${shard.commands.toFixed(1)} cmds / ${shard.usec.toFixed(0)} µs`).join(' | ');
  console.log(
    `${pass.padEnd(22)} total ${total.commands.toFixed(1)} cmds / ${total.usec.toFixed(0)} µs   shards: ${each}`,
  );
  for (const shard of shards) console.log(`    ${shard.port}: most command time in ${shard.top}`);
}
process.exit(0);
