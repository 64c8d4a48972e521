// The shipped alert rules and dashboard only use metrics Holdfast exports, and cover what operators must hear about.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Metrics } from '../../../src/observability/metrics.js';

const metrics = new Metrics({
  stores: () => Promise.resolve([]),
  redisMemory: () => undefined,
  redisDurable: () => true,
  durabilityMode: 'strict',
  now: Date.now,
});
const exported = new Set(
  metrics.registry
    .getMetricsAsArray()
    .flatMap((metric) => [metric.name, `${metric.name}_bucket`, `${metric.name}_sum`, `${metric.name}_count`]),
);
const namesIn = (expression: string) => expression.match(/holdfast_[a-z_]+/g) ?? [];
const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');

interface Rule {
  alert: string;
  expr: string;
}

describe('deploy/prometheus/alerts.yml', () => {
  const rules = (parse(read('deploy/prometheus/alerts.yml')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap(
    (group) => group.rules,
  );

  it('uses only metrics that Holdfast exports', () => {
    const unknown = rules.flatMap((rule) => namesIn(rule.expr)).filter((name) => !exported.has(name));
    expect(unknown).toEqual([]);
  });

  it('alerts on stuck mail, long holds, trips, guards, expiring mail, a non-durable Redis and short retention', () => {
    expect(rules.map((rule) => rule.alert)).toEqual(
      expect.arrayContaining([
        'HoldfastMailStuck',
        'HoldfastStoreHeldLong',
        'HoldfastStoreTripped',
        'HoldfastStoreGuarded',
        'HoldfastMailExpiringSoon',
        'HoldfastRedisNotDurable',
        'HoldfastRetentionShort',
      ]) as unknown[],
    );
  });
});

describe('deploy/grafana/holdfast-dashboard.json', () => {
  it('is a dashboard whose every query uses metrics that Holdfast exports', () => {
    const dashboard = JSON.parse(read('deploy/grafana/holdfast-dashboard.json')) as {
      panels: Array<{ targets: Array<{ expr: string }> }>;
    };
    const expressions = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
    expect(expressions.length).toBeGreaterThan(5);
    expect(expressions.flatMap(namesIn).filter((name) => !exported.has(name))).toEqual([]);
  });
});
