// Holdfast's Lua scripts are files in src/redis/lua/, each opening with a header that names every KEYS and ARGV slot it reads.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLuaSource } from '../../../src/redis/scripts.js';

const root = join(import.meta.dirname, '../../../src');
const luaDir = join(root, 'redis/lua');
const scripts = readdirSync(luaDir)
  .filter((file) => file.endsWith('.lua'))
  .map((file) => file.slice(0, -'.lua'.length));

/** Every `.ts` file under src/, with its text. */
function sources(dir: string): Array<{ path: string; text: string }> {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [{ path, text: readFileSync(path, 'utf8') }] : [];
  });
}

describe('the Lua scripts', () => {
  it('are all files: no TypeScript source carries Lua of its own', () => {
    const inline = sources(root).filter(({ text }) => text.includes('redis.call('));
    expect(inline.map(({ path }) => path)).toEqual([]);
  });

  it('are each used by name, and each name used is a file', () => {
    const used = sources(root).flatMap(({ text }) =>
      [...text.matchAll(/new LuaScript(?:<[^(]*>)?\('([\w-]+)'\)/g)].map((match) => match[1]!),
    );
    expect(new Set(used)).toEqual(new Set(scripts));
  });

  it.each(scripts)('%s names every KEYS and ARGV slot it reads, and what it returns, in its header', (name) => {
    const file = readFileSync(join(luaDir, `${name}.lua`), 'utf8');
    const header = /^--\[\[([\s\S]*?)\]\]/.exec(file)?.[1];
    expect(header, 'a --[[ ... ]] header first').toBeDefined();
    expect(header).toMatch(/^\s*Returns /m);
    const code = loadLuaSource(name).slice(file.indexOf(']]'));
    const slots = new Set([...code.matchAll(/\b(KEYS|ARGV)\[(\d+)\]/g)].map((match) => `${match[1]}[${match[2]}]`));
    const named = new Set(
      [...header!.matchAll(/^\s*(KEYS|ARGV)\[(\d+)\]/gm)].map((match) => `${match[1]}[${match[2]}]`),
    );
    expect([...slots].filter((slot) => !named.has(slot))).toEqual([]);
  });

  it('expand their includes', () => {
    const source = loadLuaSource('finish');
    expect(source).not.toContain('@include');
    expect(source).toContain('local function unlist');
  });
});
