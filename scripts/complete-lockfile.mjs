// Adds lockfile entries for platform-specific optional packages the registry here does not serve.
//
// npm records only the optional packages it could resolve; `npm ci` then refuses the lockfile as
// "out of sync" because e.g. @msgpackr-extract/msgpackr-extract-darwin-arm64 (an optional
// dependency of msgpackr, used by BullMQ) is missing. An entry with its os/cpu lets `npm ci` see it
// does not apply to this platform and skip it. Run after `npm install`: node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const PLATFORM =
  /-(darwin|linux|win32|freebsd|android|openbsd|sunos|aix)-(arm64|x64|arm|ia32|ppc64|s390x|riscv64|loong64|mips64el)(?:-(?:gnu|musl|msvc|gnueabihf))?$/;
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const packages = {};
let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  packages[path] = entry;
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    const platform = PLATFORM.exec(name);
    if (lock.packages[key] || packages[key] || !platform) continue;
    packages[key] = { version, cpu: [platform[2]], optional: true, os: [platform[1]] };
    added++;
  }
}
lock.packages = packages;
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`added ${added} platform entries\n`);
