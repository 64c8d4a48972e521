// Lua scripts run by their SHA: ioredis sends a script's source once per connection, EVALSHA after.
// Each script is a file in src/redis/lua/, read when its module loads (at start).
import { readFileSync } from 'node:fs';
import type { ChainableCommander, Redis } from 'ioredis';

export type ScriptArgument = string | number | Buffer;
type Runner = (...args: ScriptArgument[]) => Promise<unknown>;
type Methods = Record<string, Runner | undefined>;

/** Where the scripts are: beside this module, in src/ and in dist/ alike (the build copies them). */
const LUA_DIR = new URL('./lua/', import.meta.url);

/**
 * The source of `lua/NAME.lua`, with each `--- @include "PART"` line replaced by `lua/includes/PART.lua`
 * (as BullMQ's scripts include theirs): parts shared by several scripts are written once.
 */
export function loadLuaSource(name: string): string {
  const source = readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8');
  return source.replace(/^--- @include "([\w-]+)"$/gm, (_, part: string) =>
    readFileSync(new URL(`includes/${part}.lua`, LUA_DIR), 'utf8').trimEnd(),
  );
}

/** Every script made so far (modules make theirs when loaded). */
const scripts = new Set<LuaScript>();

/**
 * Defines every script on a new connection. With auto-pipelining, a command defined later would be
 * missing from the pipeline ioredis is filling at that moment; other connections define on first use.
 */
export function defineLuaScripts(redis: Redis): void {
  for (const script of scripts) script.define(redis);
}

/**
 * One of Holdfast's scripts. EVAL would send its whole source with every call and have Redis hash
 * it again each time; defined as an ioredis command, it goes as EVALSHA once the connection (the
 * socket: a reconnect loads it again) has seen it, also inside a pipeline or a MULTI.
 */
export class LuaScript<Result = unknown> {
  private readonly command: string;

  /** `lua` defaults to the file `lua/NAME.lua`; a source given here is for tests. */
  constructor(
    name: string,
    private readonly lua: string = loadLuaSource(name),
  ) {
    this.command = `holdfast_${name.replaceAll('-', '_')}`;
    scripts.add(this);
  }

  define(redis: Redis): void {
    if (typeof (redis as unknown as Methods)[this.command] === 'function') return;
    // Without numberOfKeys, the key count is the first argument: scripts may take any number of keys.
    redis.defineCommand(this.command, { lua: this.lua });
  }

  run(redis: Redis, keys: readonly string[], args: readonly ScriptArgument[]): Promise<Result> {
    return this.runner(redis, redis)(keys.length, ...keys, ...args) as Promise<Result>;
  }

  /** Adds the call to a pipeline or MULTI made from `redis` (its result is among the exec results). */
  queue(commands: ChainableCommander, redis: Redis, keys: readonly string[], args: readonly ScriptArgument[]): void {
    void this.runner(commands, redis)(keys.length, ...keys, ...args);
  }

  private runner(target: Redis | ChainableCommander, redis: Redis): Runner {
    this.define(redis);
    const defined = redis as unknown as Methods;
    const methods = target as unknown as Methods;
    // A pipeline takes its connection's scripts when it is made: one defined since is added the same way.
    methods[this.command] ??= defined[this.command];
    return methods[this.command]!.bind(target);
  }
}
