/**
 * The two evaluators of the one alert spec agree: random sample series (fast-check) go through the
 * exporter's own evaluator (src/alerts/evaluate.ts over a History) and, as scraped series, through
 * `promtool test rules` with the rendered rules; the node's firing decisions at every second are
 * promtool's expectations, so promtool fails on the first evaluation where the two differ.
 *
 * Samples and scrapes are both 1 s apart and aligned, as the rules' windows then hold the same
 * samples as the node's. Thresholds are moved off round numbers (150.123457, …) so that no ratio
 * of the series' integer counts sits exactly on one, where float rounding could tip either side.
 * The rules' annotations are dropped for this run: the decisions are under test, not the text.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fc from 'fast-check';
import * as yaml from 'js-yaml';
import { DEFAULT_ALERTS_CONFIG, type AlertsConfig } from '../../src/alerts/config';
import { Evaluator } from '../../src/alerts/evaluate';
import { ruleGroups } from '../../src/alerts/promql';
import type { Sample } from '../../src/sample/sample';
import { History } from '../../src/sample/history';
import { hasCommand, requireInCi, testIf } from '../support/env';

requireInCi(hasCommand('promtool'), 'promtool');

const CFG: AlertsConfig = {
  ...DEFAULT_ALERTS_CONFIG,
  scrapeIntervalMs: 1000,
  evaluationIntervalMs: 1000,
  thresholds: {
    ...DEFAULT_ALERTS_CONFIG.thresholds,
    stormSyscallsPerStart: 150.123457,
    stormEventsPerStart: 80.123457,
    stormCopySecondsPerStart: 0.00500123,
    stormStartsPerSecond: 0.5123457,
    leadingLockWaitSeconds: 0.00200123,
    leadingMeasuredLockWaitRatio: 0.0500123,
    lockWaitCriticalSeconds: 0.0500123,
  },
};

const SECONDS = 60;

/** One stretch of constant per-second activity. */
interface Segment {
  seconds: number;
  starts: number;
  syscallsPerStart: number;
  /** New mounts made per start. */
  madePerStart: number;
  /** Eighths of the second that tracing was armed (on demand: a storm's first seconds are not traced); tracefs counts only then. */
  traced8: number;
  eventsPerStart: number;
  /** Seconds per start inside unshare(CLONE_NEWNS), in 1/1024 s (exact in binary). */
  copy1024PerStart: number;
  /** Lock wait per second, in 1/64 s (exact in binary, so sums agree). */
  lockWait64: number;
  ns: number;
}

interface Scenario {
  segments: Segment[];
  tracefs: boolean;
  fanotify: boolean;
  /** Starts from a watched runtime directory; else from the kernel's new mount namespaces. */
  runtime: boolean;
}

const segment = fc.record({
  seconds: fc.integer({ min: 2, max: 25 }),
  starts: fc.integer({ min: 0, max: 8 }),
  syscallsPerStart: fc.constantFrom(12, 54, 100, 151, 300, 404, 450),
  madePerStart: fc.constantFrom(4, 50, 76, 102, 204),
  traced8: fc.constantFrom(0, 4, 8, 8, 8),
  eventsPerStart: fc.constantFrom(2, 8, 40, 81, 120, 204),
  copy1024PerStart: fc.constantFrom(0, 1, 4, 6, 31),
  lockWait64: fc.integer({ min: 0, max: 32 }),
  ns: fc.constantFrom(0, 0.00001, 0.001, 0.003, 0.04, 0.06, 0.2),
});
const scenario = fc.record({
  segments: fc.array(segment, { minLength: 2, maxLength: 6 }),
  tracefs: fc.boolean(),
  fanotify: fc.boolean(),
  runtime: fc.boolean(),
});

/** Per second 0..SECONDS-1: what happened in the second before it (nothing before 0). */
function perSecond(s: Scenario): Omit<Segment, 'seconds'>[] {
  const out: Omit<Segment, 'seconds'>[] = [];
  for (const seg of s.segments) for (let i = 0; i < seg.seconds && out.length < SECONDS; i++) out.push(seg);
  while (out.length < SECONDS) out.push(out[out.length - 1] as Segment);
  return out;
}

function sampleAt(t: number, x: Omit<Segment, 'seconds'>, s: Scenario): Sample {
  const first = t === 0; // the first sample has no interval behind it: nothing counted yet
  const starts = first ? 0 : x.starts;
  // What tracing saw: the part of the second it was armed.
  const traced = first ? 0 : x.traced8 / 8;
  const syscalls = starts * x.syscallsPerStart * traced;
  const parts: Record<string, unknown> = {
    containers: {
      // Without a watched runtime directory the runtime sees nothing; the kernel's namespaces count the starts.
      starts: new Map([['containerd', s.runtime ? starts : 0]]),
      watched: s.runtime ? 1 : 0,
      byImage: new Map(),
      images: new Map(),
      userns: 0,
      errors: new Map(),
      startLayers: new Map(),
      startLayersByImage: new Map(),
      deepest: [],
    },
    probes: { namespace_sem: { estimate: x.ns }, mount_lock: { estimate: 0 } },
  };
  if (s.tracefs)
    parts.tracefs = {
      calls: [{ syscall: 'move_mount', socket: '0', count: syscalls }],
      syscalls,
      mountsMade: starts * x.madePerStart * traced,
      tracedSeconds: traced,
      lockWaitSeconds: first ? 0 : (x.lockWait64 / 64) * traced,
      lost: 0,
      durations: [{ syscall: 'unshare', counts: [], sum: ((starts * x.copy1024PerStart) / 1024) * traced }],
    };
  parts.namespaces = {
    created: s.runtime ? 0 : starts,
    ...(s.fanotify ? { events: { attach: starts * x.eventsPerStart, detach: 0 } } : {}),
  };
  return { at: 1_000_000 + t * 1000, seconds: 1, parts: parts, collectors: {} };
}

function promtoolSeries(instance: string, s: Scenario): { series: string; values: string }[] {
  const xs = perSecond(s);
  const cum = (f: (x: Omit<Segment, 'seconds'>, t: number) => number) => {
    let v = 0;
    return xs.map((x, t) => (v += t === 0 ? 0 : f(x, t))).join(' ');
  };
  const l = `instance="${instance}",job="mountstorm"`;
  const out = [
    {
      series: `mountstorm_container_starts_total{${l},runtime="containerd"}`,
      values: cum((x) => (s.runtime ? x.starts : 0)),
    },
    { series: `mountstorm_container_task_dirs_watched{${l}}`, values: xs.map(() => (s.runtime ? 1 : 0)).join(' ') },
    {
      series: `mountstorm_mount_namespaces_created_total{${l}}`,
      values: cum((x) => (s.runtime ? 0 : x.starts)),
    },
    {
      series: `mountstorm_lock_wait_estimate_seconds{${l},lock="namespace_sem"}`,
      values: xs.map((x) => x.ns).join(' '),
    },
  ];
  if (s.tracefs) {
    const traced = (x: Omit<Segment, 'seconds'>) => x.traced8 / 8;
    out.push({
      series: `mountstorm_mount_syscalls_total{${l},socket="0",syscall="move_mount"}`,
      values: cum((x) => x.starts * x.syscallsPerStart * traced(x)),
    });
    out.push({
      series: `mountstorm_mounts_created_total{${l}}`,
      values: cum((x) => x.starts * x.madePerStart * traced(x)),
    });
    out.push({ series: `mountstorm_trace_armed_seconds_total{${l}}`, values: cum((x) => traced(x)) });
    // What the node's evaluator exports: the start signal's starts times the share of each second traced.
    out.push({ series: `mountstorm_container_starts_traced_total{${l}}`, values: cum((x) => x.starts * traced(x)) });
    out.push({
      series: `mountstorm_mount_syscall_duration_seconds_sum{${l},syscall="unshare"}`,
      values: cum((x) => ((x.starts * x.copy1024PerStart) / 1024) * traced(x)),
    });
    out.push({
      series: `mountstorm_mount_lock_wait_seconds_total{${l},syscall="move_mount",kind="rwsem_write"}`,
      values: cum((x) => (x.lockWait64 / 64) * traced(x)),
    });
  }
  if (s.fanotify)
    out.push({
      series: `mountstorm_mount_events_total{${l},event="attach"}`,
      values: cum((x) => x.starts * x.eventsPerStart),
    });
  return out;
}

testIf(hasCommand('promtool'), 'promtool not installed (scripts/setup-test.sh installs it)')(
  'random sample series: the node evaluator fires exactly when promtool says the rendered rules fire, at every second',
  () => {
    const scenarios = fc.sample(scenario, { numRuns: 40, seed: 20261201 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-agree-'));
    try {
      const groups = ruleGroups(CFG).map((g) => ({ ...g, rules: g.rules.map(({ annotations: _drop, ...r }) => r) }));
      fs.writeFileSync(path.join(dir, 'rules.yaml'), yaml.dump({ groups }));
      let firings = 0;
      let quiet = 0;
      const tests = scenarios.map((s, i) => {
        const instance = `s${i}`;
        const h = new History();
        const ev = new Evaluator(CFG, instance);
        const checks: object[] = [];
        perSecond(s).forEach((x, t) => {
          h.add(sampleAt(t, x, s));
          for (const a of ev.evaluate(h)) {
            const firing = a.phase === 'firing';
            if (firing) firings++;
            else quiet++;
            checks.push({
              eval_time: `${t}s`,
              alertname: a.name,
              exp_alerts: firing ? [{ exp_labels: { severity: a.severity, instance } }] : [],
            });
          }
        });
        return { interval: '1s', input_series: promtoolSeries(instance, s), alert_rule_test: checks };
      });
      // Both decisions must occur, or the agreement would be vacuous.
      expect(firings).toBeGreaterThan(50);
      expect(quiet).toBeGreaterThan(50);
      fs.writeFileSync(
        path.join(dir, 'agree.yaml'),
        yaml.dump({ rule_files: ['rules.yaml'], evaluation_interval: '1s', tests }, { lineWidth: -1 }),
      );
      let out = '';
      try {
        out = execFileSync('promtool', ['test', 'rules', path.join(dir, 'agree.yaml')], {
          encoding: 'utf8',
          maxBuffer: 64 << 20,
        });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        throw new Error(
          `promtool disagrees with the node's evaluator:\n${(e.stdout ?? '').slice(0, 4000)}${(e.stderr ?? '').slice(0, 2000)}`,
          { cause: err },
        );
      }
      expect(out).toMatch(/SUCCESS/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  120_000,
);
