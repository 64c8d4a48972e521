// Redis commands and command time per message, from INFO commandstats (CONFIG RESETSTAT before a
// pass). Redis counts a command run inside a Lua script or a MULTI under its own name, and the
// EVALSHA or EXEC around it too: "commands" is every entry's calls, as the figures and the
// library floors (bench/floors/) count them; "command time" is every entry's usec summed the same
// way (so a script's inner commands count in its own usec and again on their own). Both are
// compared only with figures measured the same way.
import { Redis } from 'ioredis';

export interface CommandStat {
  command: string;
  calls: number;
  usec: number;
}

export interface RedisCommandFigures {
  commandsPerMessage: number;
  usecPerMessage: number;
  /** Redis's main thread CPU (INFO cpu used_cpu_*_main_thread) per message, µs: networking and fsync included. */
  mainThreadCpuUsPerMessage: number;
  /** Per message, most calls first. */
  byCommand: CommandStat[];
}

/** Parses `cmdstat_zadd:calls=10,usec=179,...` lines. */
export function parseCommandStats(info: string): CommandStat[] {
  const stats: CommandStat[] = [];
  for (const line of info.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (match) stats.push({ command: match[1]!, calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

function mainThreadCpuSeconds(info: string): number {
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 'NaN');
  return field('used_cpu_user_main_thread') + field('used_cpu_sys_main_thread');
}

/** Counts what one Redis runs between `start()` and `stop(messages)`; one connection of its own. */
export class RedisCommandCounter {
  private readonly redis: Redis;
  private cpuBefore = 0;

  constructor(url: string) {
    this.redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  }

  async start(): Promise<void> {
    if (this.redis.status === 'wait') await this.redis.connect();
    await this.redis.config('RESETSTAT');
    this.cpuBefore = mainThreadCpuSeconds(await this.redis.info('cpu'));
  }

  async stop(messages: number): Promise<RedisCommandFigures> {
    const stats = parseCommandStats(await this.redis.info('commandstats'));
    const cpu = mainThreadCpuSeconds(await this.redis.info('cpu')) - this.cpuBefore;
    const byCommand = stats
      .map((stat) => ({ command: stat.command, calls: stat.calls / messages, usec: stat.usec / messages }))
      .sort((a, b) => b.calls - a.calls);
    return {
      commandsPerMessage: byCommand.reduce((sum, stat) => sum + stat.calls, 0),
      usecPerMessage: byCommand.reduce((sum, stat) => sum + stat.usec, 0),
      mainThreadCpuUsPerMessage: (cpu * 1e6) / messages,
      byCommand,
    };
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** "98.0 commands, 452 µs a message (zadd 10.0, pexpire 9.0, ...)" */
export function redisCommandsText(figures: RedisCommandFigures, top = 12): string {
  const list = figures.byCommand
    .slice(0, top)
    .map((stat) => `${stat.command} ${stat.calls.toFixed(2)}`)
    .join(', ');
  return (
    `Redis ${figures.commandsPerMessage.toFixed(1)} commands and ${figures.usecPerMessage.toFixed(0)} µs of ` +
    `command time a message (main thread CPU ${figures.mainThreadCpuUsPerMessage.toFixed(0)} µs): ${list}`
  );
}
