// Onset to page on both paths, against the 30 s liveness budget (3 probes × 10 s), in one run: the
// fire drill (test/support/fire-drill.ts: the exporter as a node runs it, real Prometheus with the
// shipped rules, real Alertmanager with the shipped routing, a local PagerDuty Events API v2
// receiver, a quiet window of common-parent churn, then a sustained per-layer-idmap storm) run as
//   prometheus-5s    the Prometheus path at a 5 s scrape (no node push): the path as it was
//   prometheus-30s   the Prometheus path at a 30 s scrape (the Prometheus Operator's default), its
//                    rules rendered for it (`mountstorm render-alerts --config` with scrape_interval: 30s)
//   node-push-30s    the exporter posting its own alerts, Prometheus at a 30 s scrape
// in rotating order each round. Reported per arm: onset to page (median, each round), ÷ the 30 s
// budget, ÷ the prometheus-5s arm of the same round; incidents per storm; storm end to resolve.
// usage (root, after npm run build): node dist/bench/page.js [rounds=2] [storm seconds=30] [concurrency=8] [layers=50]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runFireDrill, type DrillOptions, type DrillResult } from '../test/support/fire-drill';
import { median } from './stats';
import { REPO } from '../test/support/env';

const args = process.argv.slice(2);
const rounds = Number(args[0] ?? 2);
const stormSeconds = Number(args[1] ?? 30);
const concurrency = Number(args[2] ?? 8);
const layers = Number(args[3] ?? 50);
const BUDGET = 30;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-page-'));
fs.writeFileSync(path.join(tmp, 'alerts.yml'), 'scrape_interval: 30s\nevaluation_interval: 30s\n');
const rules30 = path.join(tmp, 'rules-30s.yaml');
execFileSync(process.execPath, [
  path.join(REPO, 'dist/src/cli.js'),
  'render-alerts',
  `--config=${path.join(tmp, 'alerts.yml')}`,
  `--output=${rules30}`,
]);

type ArmName = 'prometheus-5s' | 'prometheus-30s' | 'node-push-30s';
const ARMS: Record<ArmName, Partial<DrillOptions>> = {
  'prometheus-5s': { scrapeInterval: '5s', nodePush: false },
  'prometheus-30s': { scrapeInterval: '30s', nodePush: false, rulesFile: rules30 },
  'node-push-30s': { scrapeInterval: '30s', nodePush: true },
};
const names = Object.keys(ARMS) as ArmName[];
const fmt = (v: number | undefined, d = 1) => (v === undefined || Number.isNaN(v) ? 'never' : v.toFixed(d));

async function main() {
  if (process.getuid?.() !== 0) throw new Error('run as root (the storm mounts, tracefs)');
  const results = Object.fromEntries(names.map((n) => [n, [] as DrillResult[]])) as Record<ArmName, DrillResult[]>;
  for (let r = 0; r < rounds; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length] as ArmName);
    for (const name of order) {
      const res = await runFireDrill({
        stormSeconds,
        quietSeconds: 12,
        quietChurn: 2,
        mode: 'per-layer-idmap',
        concurrency,
        layers,
        resolveTimeoutSeconds: 45,
        ...ARMS[name],
      });
      results[name].push(res);
      process.stdout.write(
        `round ${r + 1} ${name}: onset to page ${fmt(res.onsetToPageSeconds)} s, incidents ${res.pageIncidents.length}, quiet-window events ${res.quietEvents.length}, ` +
          `node alerts [${res.nodeAlerts.join(',')}], Prometheus alerts [${res.prometheusAlerts.join(',')}], end to resolve ${fmt(res.endToResolveSeconds)} s\n`,
      );
    }
  }
  process.stdout.write(
    `\nmachine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}; storm ${stormSeconds} s, concurrency ${concurrency}, ${layers} layers, ${rounds} rounds\n`,
  );
  process.stdout.write(
    'arm              onset→page (median; each)     ÷ 30 s budget   ÷ prometheus-5s (same round)   incidents/storm   end→resolve\n',
  );
  for (const name of names) {
    const rs = results[name];
    const onsets = rs.map((x) => x.onsetToPageSeconds);
    const paged = onsets.filter((v): v is number => v !== undefined);
    const med = paged.length === rs.length ? median(paged) : undefined;
    const ratios = rs.map((x, i) => {
      const base = results['prometheus-5s'][i]?.onsetToPageSeconds;
      return x.onsetToPageSeconds !== undefined && base ? x.onsetToPageSeconds / base : NaN;
    });
    const resolves = rs.map((x) => x.endToResolveSeconds).filter((v): v is number => v !== undefined);
    process.stdout.write(
      `${name.padEnd(16)} ${fmt(med).padStart(6)} s (${onsets.map((v) => fmt(v)).join(', ')})`.padEnd(47) +
        `${fmt(med === undefined ? undefined : med / BUDGET, 2).padStart(8)}        ${fmt(median(ratios.filter((v) => !Number.isNaN(v))), 2).padStart(8)}` +
        `                      ${rs
          .map((x) => x.pageIncidents.length)
          .join(', ')
          .padStart(6)}          ${fmt(resolves.length ? median(resolves) : undefined)} s\n`,
    );
  }
}

main()
  .finally(() => fs.rmSync(tmp, { recursive: true, force: true }))
  .catch((err) => {
    process.stderr.write(`page: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(2);
  });
