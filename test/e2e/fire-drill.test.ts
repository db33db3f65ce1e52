/**
 * The fire drill as tests: real prometheus, real Alertmanager with the shipped config, a local
 * PagerDuty Events API v2 receiver, a quiet window of normal container churn, then a sustained real
 * storm whose container starts are bundles in the task directory the exporter watches (as
 * containerd's). Both storm modes run at the same start rate: the per-layer one must page, the
 * common-parent one (the fixed runtime's pattern) must not. The node-push drill runs Prometheus at
 * 30 s, where only the node itself can page in time. Timings go to test-artifacts/ and, measured
 * by `npm run fire-drill`, to BENCHMARKS.md; the tests assert what happened and in which order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ARTIFACTS, IS_ROOT, hasCommand, requireInCi, testIf } from '../support/env';
import { runFireDrill, type DrillOptions, type DrillResult } from '../support/fire-drill';

const ready = IS_ROOT && hasCommand('prometheus') && hasCommand('prometheus-alertmanager');
requireInCi(ready, 'root, prometheus and prometheus-alertmanager for the fire drill');
const drill = testIf(ready, 'needs root (storm, tracefs) and Debian prometheus + prometheus-alertmanager (scripts/setup-test.sh)');

/** The start rate both modes run at: one the per-layer storm reaches on two vCPUs (41/s measured at 50). */
const RATE = 50;

async function run(name: string, o: DrillOptions): Promise<DrillResult> {
  const lines: string[] = [];
  const r = await runFireDrill({ ...o, log: (l) => lines.push(l) });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(path.join(ARTIFACTS, `fire-drill-${name}.json`), JSON.stringify({ log: lines, ...r }, null, 2));
  // eslint-disable-next-line no-console
  console.log(`fire drill ${name}: onset to page ${r.onsetToPageSeconds?.toFixed(1) ?? '-'} s, storm end to resolve ${r.endToResolveSeconds?.toFixed(1) ?? '-'} s\n${lines.join('\n')}`);
  return r;
}

function expectOnePage(r: DrillResult): void {
  expect(r.quietEvents).toEqual([]);
  expect(r.rejected).toBe(0);
  expect(r.trigger).toBeDefined();
  const t = r.trigger!;
  expect(t.routing_key).toBe('p'.repeat(32)); // the page service's key, read from routing_key_file
  expect(t.payload?.severity).toBe('critical');
  expect(t.payload?.component).toBe('MountStormImminent');
  expect(t.payload?.summary).toMatch(/^\[FIRING\] MountStormImminent on 127\.0\.0\.1:\d+: /);
  // The page says what it saw: the per-start figure of a per-layer runtime, the layer depth.
  expect(String(t.payload?.custom_details?.description)).toMatch(/makes (\d{3}|n\/a) mount syscalls \((\d{3}) mounts attached and detached, .*-layer images, most of them drill\/per-layer-idmap-50-layers:latest: /);
  expect(r.pageIncidents).toHaveLength(1);
  expect(r.resolve?.event_action).toBe('resolve');
  expect(r.storm?.containers).toBeGreaterThan(0);
}

describe('the page tells a mount storm from busy churn (Prometheus path, 5 s scrape)', () => {
  drill(
    `per-layer-idmap at ${RATE} starts/s: pages MountStormImminent while the storm lasts, one incident, resolved after; the quiet churn before it sends nothing`,
    async () => {
      const r = await run('per-layer', { stormSeconds: 25, quietSeconds: 12, quietChurn: 2, mode: 'per-layer-idmap', rate: RATE, concurrency: 8, layers: 50 });
      expectOnePage(r);
      expect(r.trigger!.receivedAt).toBeLessThan(r.resolve!.receivedAt);
      expect(r.prometheusAlerts).toContain('MountStormImminent');
    },
    300_000,
  );

  drill(
    `common-parent-idmap at the same ${RATE} starts/s: no critical page (a warning at most)`,
    async () => {
      const r = await run('common-parent', { stormSeconds: 25, quietSeconds: 12, quietChurn: 2, mode: 'common-parent-idmap', rate: RATE, concurrency: 8, layers: 50, resolveTimeoutSeconds: 0 });
      expect(r.rejected).toBe(0);
      expect(r.quietEvents).toEqual([]);
      expect(r.storm?.containers).toBeGreaterThan(RATE * 10);
      expect(r.stormEvents.filter((e) => e.payload?.severity === 'critical')).toEqual([]);
      expect(r.prometheusAlerts.filter((a) => a === 'MountStormImminent' || a === 'MountStormLockWaitHigh')).toEqual([]);
      expect(r.nodeAlerts).toEqual([]);
    },
    300_000,
  );
});

describe('the node pages itself (30 s scrape)', () => {
  drill(
    'node push: the exporter posts MountStormImminent to Alertmanager, one incident, the rule stands aside, the resolve follows the storm; quiet churn sends nothing',
    async () => {
      const r = await run('node-push', { stormSeconds: 20, quietSeconds: 12, quietChurn: 2, mode: 'per-layer-idmap', concurrency: 8, layers: 50, scrapeInterval: '30s', nodePush: true });
      expectOnePage(r);
      expect(r.nodeAlerts).toContain('MountStormImminent');
      // The page came from the node: Prometheus's own rule never fired while the node reached Alertmanager.
      expect(r.prometheusAlerts).not.toContain('MountStormImminent');
      expect(r.alertmanagerUp).toBe(1);
    },
    300_000,
  );
});
