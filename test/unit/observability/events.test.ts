// Every log event name is documented for operators.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVENTS } from '../../../src/observability/events.js';

describe('the log event catalogue', () => {
  it('has every event documented in docs/logging.md', () => {
    const documented = readFileSync(new URL('../../../docs/logging.md', import.meta.url), 'utf8');
    const missing = Object.values(EVENTS).filter((event) => !documented.includes(`\`${event}\``));
    expect(missing).toEqual([]);
  });
});
