// FENCED: reaches into BullMQ's non-public files. Everything here is checked by
// test/integration/internals-bullmq-commit.test.ts, which fails when BullMQ changes what it relies on.
//
// Why: ioredis copies every script defined on a connection onto each MULTI made there (two
// properties a script), and BullMQ defines about 60 on the connections its queues use. Reception
// makes one MULTI a message: on BullMQ's connection that copy alone took 0.1–0.17 ms of each
// message's reply at one session. Reception commits on a connection of its own instead, which
// has only the scripts a job insert runs. BullMQ does not publish those scripts; this takes them
// from its package.
import { createRequire } from 'node:module';
import { createIORedisClient, type IRedisClient } from 'bullmq';
import type { Redis } from 'ioredis';

interface BullmqScript {
  name: string;
  content: string;
  keys: number;
}

const require = createRequire(import.meta.url);
/** BullMQ's scripts, as it defines them on its own connections (`RedisConnection.loadCommands`). */
const scripts = require('bullmq/dist/cjs/scripts/index.js') as Record<string, BullmqScript>;
/** The version BullMQ appends to each script's command name (`addStandardJob:6.7.0`). */
const { version } = require('bullmq/dist/cjs/version.js') as { version: string };

/** The scripts `Job.addJob` may run inside a transaction, by the options a job can have. */
export const JOB_INSERT_SCRIPTS = ['addStandardJob', 'addDelayedJob', 'addPrioritizedJob', 'addParentJob'] as const;

/** The command name BullMQ runs a script under. */
export function bullmqCommandName(script: string): string {
  return `${script}:${version}`;
}

/**
 * Loads the job insert scripts into every given server's script cache (SCRIPT LOAD). A Redis Cluster
 * primary restarted with an empty cache otherwise answers NOSCRIPT to every commit's EVALSHA inside
 * MULTI: ioredis's fallback to EVAL does not apply inside a transaction there.
 */
export async function loadJobInsertScripts(servers: readonly Redis[]): Promise<void> {
  const sources = JOB_INSERT_SCRIPTS.map((name) => scripts[name]?.content).filter((lua) => typeof lua === 'string');
  await Promise.all(servers.flatMap((server) => sources.map((lua) => server.script('LOAD', lua))));
}

/** Connections already given the scripts, with their client: the work is done once, not per message. */
const prepared = new WeakMap<Redis, IRedisClient>();

/**
 * Defines BullMQ's job insert scripts on `connection` (and nothing else of BullMQ's), and returns
 * the client BullMQ's `Job.addJob(transaction)` needs: its MULTIs run those scripts by name.
 */
export function jobInsertClient(connection: Redis): IRedisClient {
  const known = prepared.get(connection);
  if (known) return known;
  for (const name of JOB_INSERT_SCRIPTS) {
    const script = scripts[name];
    if (!script || typeof script.content !== 'string' || typeof script.keys !== 'number') {
      throw new Error(`BullMQ ${version} has no script ${name}: src/internals/bullmq-commit.ts needs updating`);
    }
    const command = bullmqCommandName(script.name);
    if (!(command in connection)) connection.defineCommand(command, { numberOfKeys: script.keys, lua: script.content });
  }
  const client = createIORedisClient(connection);
  prepared.set(connection, client);
  return client;
}
