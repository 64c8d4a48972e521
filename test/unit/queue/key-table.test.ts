// The Redis key table in docs/design.md names every key family of src/queue/keys.ts, and nothing else.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createKeys, type Keys } from '../../../src/queue/keys.js';

const design = readFileSync(new URL('../../../docs/design.md', import.meta.url), 'utf8');

/** Every key the table's first column names, as written (`<p>` for the prefix, `<...>` for the variable parts). */
function documentedKeys(): Set<string> {
  const section = design.slice(design.indexOf('## Redis layout'));
  const table = section.slice(section.indexOf('| key'), section.indexOf('\n\n', section.indexOf('| key')));
  const firstColumn = table
    .split('\n')
    .slice(2)
    .map((row) => row.split('|')[1] ?? '');
  return new Set(firstColumn.flatMap((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!)));
}

/** Each member of Keys with the table's placeholders: a new key family fails here until it is documented. */
function builtKeys(keys: Keys): Record<keyof Keys, string[]> {
  return {
    prefix: [],
    layout: [keys.layout],
    layoutLock: [keys.layoutLock],
    bullmqPrefix: [`${keys.bullmqPrefix('<id>')}:<id>:*`],
    jobBody: [keys.jobBody('<id>', '<jobId>')],
    incomingBody: [keys.incomingBody('<id>', '<queueId>')],
    legacyMessage: [keys.legacyMessage('<queueId>')],
    legacyBody: [keys.legacyBody('<queueId>')],
    legacyPending: [keys.legacyPending('<queueId>')],
    routes: [keys.routes],
    routesLoading: [keys.routesLoading],
    mailstoreState: [keys.mailstoreState('<id>')],
    mailstorePauses: [keys.mailstorePauses('<id>')],
    mailstoreGuards: [keys.mailstoreGuards('<id>')],
    mailstoreOutcomes: [keys.mailstoreOutcomes('<id>')],
    mailstoreFailures: [keys.mailstoreFailures('<id>')],
    mailstoreLastError: [keys.mailstoreLastError('<id>')],
    mailstoreBacklog: [keys.mailstoreBacklog('<id>')],
    mailstoreBacklogBytes: [keys.mailstoreBacklogBytes('<id>')],
    heldMessages: [keys.heldMessages('<id>')],
    mailstoreOverrides: [keys.mailstoreOverrides('<id>')],
    mailstoreSweepLock: [keys.mailstoreSweepLock('<id>')],
    mailstoreWindows: [keys.mailstoreWindows('<id>')],
    retainedIndex: [keys.retainedIndex('<id>')],
    retainedBytes: [keys.retainedBytes('<id>')],
    retainedGapUntil: [keys.retainedGapUntil('<id>')],
    retainedEntry: [keys.retainedEntry('<id>', '<entryId>')],
    audit: [keys.audit],
    mailstoreAudit: [keys.mailstoreAudit('<id>')],
    traceEvents: [keys.traceEvents('<queueId>')],
    traceByMessageId: [keys.traceByMessageId('<id>')],
    traceByRecipient: [keys.traceByRecipient('<address>')],
  };
}

describe("docs/design.md's key table", () => {
  const keys = createKeys('<p>');
  const built = builtKeys(keys);

  it('covers every member of the key builder', () => {
    expect(Object.keys(built).sort()).toEqual(Object.keys(keys).sort());
  });

  it('documents every key the builder makes, and no key it does not', () => {
    expect([...documentedKeys()].sort()).toEqual(Object.values(built).flat().sort());
  });
});
