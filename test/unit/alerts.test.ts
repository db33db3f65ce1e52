/**
 * The alerting bundle as code: rules rendered from the one spec, mixin settings, the timing budget,
 * the node's evaluator and its Prometheus-style formatting, PagerDuty severities.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { DEFAULT_ALERTS_CONFIG, parseAlertsConfig, runbookUrl, type AlertsConfig } from '../../src/alerts/config';
import { Evaluator, nodeDescription, holds } from '../../src/alerts/evaluate';
import { formatValue, g4, humanize, humanizeDuration } from '../../src/alerts/format';
import { ruleGroups } from '../../src/alerts/promql';
import { renderPrometheusRule, renderRules } from '../../src/alerts/render';
import { ALERTS, signalsOf } from '../../src/alerts/spec';
import { THRESHOLDS } from '../../src/alerts/thresholds';
import { ConfigError } from '../../src/errors';
import { Exposition } from '../../src/exposition';
import { renderDashboard } from '../../src/grafana/render';
import type { Sample } from '../../src/sample/sample';
import { History } from '../../src/sample/history';
import { AM_CONFIG } from '../support/alertmanager';
import { REPO } from '../support/env';
import { signal, SIGNALS } from '../../src/alerts/signals';

const RULES = path.join(REPO, 'alerts/mountstorm.rules.yaml');
const rules = (cfg: AlertsConfig = DEFAULT_ALERTS_CONFIG) => ruleGroups(cfg).flatMap((g) => g.rules);
const alerts = rules().filter((r) => r.alert);
const seconds = (d: string) => Number(d.slice(0, -1)) * { s: 1, m: 60, h: 3600 }[d.slice(-1) as 's' | 'm' | 'h'];

describe('rules', () => {
  test('the committed rule files are rendered from the spec (npm run render-alerts)', () => {
    expect(fs.readFileSync(RULES, 'utf8')).toBe(renderRules());
    expect(fs.readFileSync(path.join(REPO, 'deploy/kubernetes/base/prometheusrule.yaml'), 'utf8')).toBe(
      renderPrometheusRule(),
    );
  });

  test('mixin conventions: names, for, severity, summary, description, runbook that exists', () => {
    expect(alerts.length).toBe(ALERTS.length);
    for (const a of alerts) {
      expect(a.alert).toMatch(/^Mount(Storm|Table|Pressure)[A-Z][A-Za-z]+$/);
      expect(a.for).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning', 'info']).toContain(a.labels?.severity);
      expect(a.annotations?.summary).not.toMatch(/\{\{/);
      expect(a.annotations?.description).toMatch(/\{\{ (\$labels\.instance|with \$labels\.instance) /);
      expect(a.annotations?.runbook_url).toBe(runbookUrl(DEFAULT_ALERTS_CONFIG, a.alert as string));
      expect(fs.existsSync(path.join(REPO, 'alerts/runbooks', `${a.alert}.md`))).toBe(true);
    }
    for (const r of rules().filter((x) => x.record)) expect(r.record).toMatch(/^[a-z]+:[a-z_]+:[a-z0-9_]+$/);
  });

  test('every signal an alert reads has a recording rule, and every rule is read', () => {
    const recorded = new Set(
      rules()
        .filter((r) => r.record)
        .map((r) => r.record),
    );
    const text = rules()
      .map((r) => `${r.expr} ${JSON.stringify(r.annotations ?? {})}`)
      .join('\n');
    for (const a of ALERTS)
      for (const id of a.condition ? signalsOf(a.condition) : [])
        expect(recorded.has(SIGNALS[id]?.record(DEFAULT_ALERTS_CONFIG))).toBe(true);
    for (const r of recorded) expect(text.split(r as string).length).toBeGreaterThan(1); // read by an alert or another rule
  });

  test('no threshold is written twice: every one is read by the spec or by the code it names', () => {
    const src = (dir: string): string[] =>
      fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((e) =>
          e.isDirectory() ? src(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
        );
    const code = src(path.join(REPO, 'src'))
      .filter((f) => !f.endsWith('thresholds.ts'))
      .map((f) => fs.readFileSync(f, 'utf8'))
      .join('\n');
    for (const k of Object.keys(THRESHOLDS)) expect(code).toMatch(new RegExp(`['.]${k}\\b`));
    // No bare threshold values in the spec's conditions: they come from THRESHOLDS by name.
    const spec = fs.readFileSync(path.join(REPO, 'src/alerts/spec.ts'), 'utf8');
    expect(spec).not.toMatch(/above: [1-9]/);
  });

  test('critical alerts meet the Prometheus path budget: scrape 5 s + eval 5 s + for + group_wait ≤ 20 s', () => {
    const am = yaml.load(fs.readFileSync(AM_CONFIG, 'utf8')) as {
      route: { routes: { receiver: string; group_wait?: string; group_interval?: string }[] };
    };
    const page = am.route.routes.find((r) => r.receiver === 'page');
    const groupWait = seconds(page?.group_wait ?? '30s');
    expect(groupWait).toBeLessThanOrEqual(5);
    // The resolve reaches PagerDuty within one group_interval of Alertmanager learning of it.
    expect(seconds(page?.group_interval ?? '5m')).toBeLessThanOrEqual(15);
    for (const a of alerts.filter((x) => x.labels?.severity === 'critical'))
      expect(5 + 5 + seconds(a.for as string) + groupWait).toBeLessThanOrEqual(20);
  });

  test('alerts/README.md names every alert and every recording rule as rendered', () => {
    const doc = fs.readFileSync(path.join(REPO, 'alerts/README.md'), 'utf8');
    for (const r of rules()) expect(doc).toContain(`\`${r.record ?? r.alert}\``.replace(/^`(Mount\w+)`$/, '[$1]'));
  });

  test('node alerts stand aside while the node reaches an Alertmanager; others do not', () => {
    for (const a of ALERTS) {
      const r = alerts.find((x) => x.alert === a.name);
      if (a.node)
        expect(r?.expr).toMatch(
          /unless on \(instance\)\n\s+max by \(instance\) \(mountstorm_alertmanager_up\{job="mountstorm"\}\) == 1$/,
        );
      else expect(r?.expr).not.toMatch(/mountstorm_alertmanager_up/);
    }
  });
});

describe('alerts config (mixin settings)', () => {
  const cfg = parseAlertsConfig(
    `selector: 'job="node-exporters", cluster="eu1"'\nscrape_interval: 30s\nevaluation_interval: 15s\nrunbook_url: 'https://wiki.example.com/rb/{alert}'\nthresholds:\n  stormSyscallsPerStart: 200\n  stormFor: 5s\n`,
    'mine.yaml',
  );

  test('the selector, windows, runbook URL and thresholds reach every rule', () => {
    const rs = rules(cfg);
    expect(ruleGroups(cfg)[0]?.interval).toBe('15s');
    for (const r of rs.filter((x) => x.record)) {
      for (const m of r.expr.matchAll(/\b(mountstorm_[a-z_]+|up)\{([^}]*)\}/g))
        expect(m[2]).toMatch(/^job="node-exporters", cluster="eu1"/);
      // Four scrapes at 30 s: the fast window is 2m, not 10s.
      if (r.record?.includes(':rate')) expect(r.record).toMatch(/:rate2m$/);
    }
    const storm = rs.find((r) => r.alert === 'MountStormImminent');
    expect(storm?.expr).toMatch(/ratio2m > 200\b/);
    expect(storm?.for).toBe('5s');
    expect(storm?.annotations?.runbook_url).toBe('https://wiki.example.com/rb/MountStormImminent');
    expect(rs.find((r) => r.alert === 'MountStormExporterAbsent')?.expr).toContain(
      'absent(up{job="node-exporters", cluster="eu1"})',
    );
  });

  test('the same settings drive the dashboards: selector in every query, runbook links', () => {
    for (const name of ['mountstorm-node.json', 'mountstorm-fleet.json']) {
      const d = JSON.parse(renderDashboard(name, cfg)) as {
        panels: { targets?: { expr: string }[]; links?: { url: string }[] }[];
      };
      for (const p of d.panels)
        for (const t of p.targets ?? [])
          for (const m of t.expr.matchAll(/\bmountstorm_[a-z_]+\{([^}]*)\}/g))
            expect(m[1]).toMatch(/^job="node-exporters", cluster="eu1"/);
      for (const p of d.panels)
        for (const l of p.links ?? []) expect(l.url).toMatch(/^https:\/\/wiki\.example\.com\/rb\/Mount/);
    }
  });

  test('an empty file is the defaults', () => {
    expect(parseAlertsConfig('', 'empty.yaml')).toBe(DEFAULT_ALERTS_CONFIG);
  });

  test.each([
    ['nope: 1', /unknown key "nope"/],
    ['selector: job=mountstorm', /selector must be PromQL label matchers/],
    ['selector: \'job="a"} or vector(1) or {x="y"\'', /selector must be PromQL label matchers/],
    ["runbook_url: 'https://x/y'", /must be an http\(s\) URL containing \{alert\}/],
    ["runbook_url: 'javascript:alert(1)/{alert}'", /runbook_url/],
    ['scrape_interval: fast', /scrape_interval must be a duration/],
    ['thresholds: {stormSyscallsPerStart: -1}', /non-negative number/],
    ['thresholds: {stormSyscallsPerStart: "150"}', /non-negative number/],
    ['thresholds: {stormFor: 3}', /stormFor must be a duration/],
    ['thresholds: {made_up: 3}', /unknown threshold "made_up"/],
    ['thresholds: [1]', /thresholds must be a mapping/],
    ['[1, 2]', /must be a mapping/],
    ['a: [', /not valid YAML/],
  ])('%s → a ConfigError naming the file and key', (text, why) => {
    let err: unknown;
    try {
      parseAlertsConfig(text, 'bad.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^bad\.yaml: /);
    expect((err as Error).message).toMatch(why);
  });
});

/** A sample as the sampler makes it, with the parts the signals read. */
function sample(
  t: number,
  x: {
    starts?: number;
    syscalls?: number;
    events?: number;
    lockWait?: number;
    ns?: number;
    layers?: { web: number; db: number };
    /** Of the syscalls, mount_setattr calls (idmapped mounts made). */
    idmaps?: number;
    /** Masked paths of the starts, and of those per CPU. */
    masked?: number;
    perCpu?: number;
    /** Seconds inside the mount syscalls (default: 10 µs each), and inside unshare(CLONE_NEWNS) among them. */
    mountSeconds?: number;
    copySeconds?: number;
    /** The watched table's size. */
    entries?: number;
    /** New mounts the syscalls made (default 0), and the seconds of the sample tracing was armed (default: all of it). */
    made?: number;
    traced?: number;
    /** Opens of the mount table by its readers (counted only with --collector.tracefs.readers). */
    opens?: number;
  },
): Sample {
  const parts: Record<string, unknown> = { probes: { namespace_sem: { estimate: x.ns ?? 0 } } };
  if (x.starts !== undefined) {
    // Of each sample's starts, one is db's, the rest web's; with `layers`, their overlays were found (starts × layers).
    const images = new Map<string, number>(
      x.starts > 0
        ? [
            ['registry.example/web:1', x.starts - 1],
            ['registry.example/db:2', 1],
          ]
        : [],
    );
    const startLayers = new Map<string, number>(
      x.layers && x.starts > 0
        ? [
            ['registry.example/web:1', (x.starts - 1) * x.layers.web],
            ['registry.example/db:2', x.layers.db],
          ]
        : [],
    );
    parts.containers = {
      starts: new Map([['containerd', x.starts]]),
      watched: 1,
      byImage: new Map(),
      images,
      userns: 0,
      maskedPaths: x.masked ?? 0,
      perCpuMaskedPaths: x.perCpu ?? 0,
      errors: new Map(),
      startLayers,
      startLayersByImage: new Map(),
      deepest: [],
    };
  }
  if (x.syscalls !== undefined)
    parts.tracefs = {
      calls: [
        { syscall: 'move_mount', socket: '0', count: x.syscalls - (x.idmaps ?? 0) },
        { syscall: 'mount_setattr', socket: '0', count: x.idmaps ?? 0 },
      ],
      syscalls: x.syscalls,
      mountsMade: x.made ?? 0,
      tracedSeconds: x.traced ?? 1,
      tableOpens: x.opens,
      lockWaitSeconds: x.lockWait ?? 0,
      lost: 0,
      durations: [
        { syscall: 'move_mount', counts: [], sum: (x.mountSeconds ?? x.syscalls * 1e-5) - (x.copySeconds ?? 0) },
        { syscall: 'unshare', counts: [], sum: x.copySeconds ?? 0 },
      ],
    };
  if (x.entries !== undefined) parts.mounts = { entries: x.entries };
  if (x.events !== undefined) parts.namespaces = { events: { attach: x.events, detach: 0 } };
  return { at: t * 1000, seconds: 1, parts: parts, collectors: {} };
}

describe('the node evaluator', () => {
  const storm = { starts: 4, syscalls: 1616, made: 408, events: 816, lockWait: 0.25, ns: 0.00003, idmaps: 400 };
  const fixed = { starts: 4, syscalls: 216, events: 32, lockWait: 0.25, ns: 0.003 };
  type Input = Parameters<typeof sample>[1];
  /** The storm page after 8 samples: a first with nothing counted yet, then `x` each second. */
  const imminentAfter = (x: Input, first: Input = { starts: 0, syscalls: 0, events: 0 }) => {
    const h = new History();
    const ev = new Evaluator(DEFAULT_ALERTS_CONFIG, 'n1');
    for (let t = 0; t < 8; t++) {
      h.add(sample(t, t === 0 ? first : x));
      ev.evaluate(h);
    }
    return ev.current().find((a) => a.name === 'MountStormImminent');
  };

  test("`for` as the samples measure it: held on two samples 0.98 s apart is held for the storm page's 1 s, to within half the sample interval", () => {
    /** The storm page's phases at samples every second until it is pending, then at each of `after` (s after that). */
    const run = (after: number[], sampleIntervalMs?: number) => {
      const h = new History();
      const ev = new Evaluator(DEFAULT_ALERTS_CONFIG, 'n1', undefined, sampleIntervalMs);
      const phase = () => ev.current().find((a) => a.name === 'MountStormImminent')?.phase;
      h.add(sample(0, { starts: 0, syscalls: 0, events: 0 }));
      ev.evaluate(h);
      let t = 0;
      while (phase() !== 'pending') {
        if (++t > 8) throw new Error('never pending');
        h.add(sample(t, storm));
        ev.evaluate(h);
      }
      return after.map((dt) => {
        h.add(sample(t + dt, storm));
        ev.evaluate(h);
        return phase();
      });
    };
    // The next sample 0.98 s later: firing where samples come every second, short of 1 s where exact.
    expect(run([0.98], 1000)).toEqual(['firing']);
    expect(run([0.98])).toEqual(['pending']);
    // Never sooner than half an interval before `for`: 0.4 s later is not enough, 1 s later is.
    expect(run([0.4, 1], 1000)).toEqual(['pending', 'firing']);
  });

  test('pending when the condition first holds, firing after `for`, kept firing for keep_firing_for after it last held, then inactive', () => {
    const h = new History();
    // The 0.05 s/s lock-wait threshold of before: lock wait then holds from the third sample on.
    const cfg: AlertsConfig = {
      ...DEFAULT_ALERTS_CONFIG,
      thresholds: { ...DEFAULT_ALERTS_CONFIG.thresholds, leadingMeasuredLockWaitRatio: 0.05 },
    };
    const ev = new Evaluator(cfg, 'n1');
    const phase = () => ev.current().find((a) => a.name === 'MountStormImminent');
    h.add(sample(0, { starts: 0, syscalls: 0, events: 0 }));
    ev.evaluate(h);
    expect(phase()?.phase).toBe('inactive');
    // The counters start at 0 with the exporter, so nothing extrapolates before the first sample.
    // 1-2 s in: the start rate and the signature hold, lock wait not yet (0.01 s/s).
    for (const t of [1, 2]) {
      h.add(sample(t, { ...storm, lockWait: 0.01 }));
      ev.evaluate(h);
      expect(phase()?.phase).toBe('inactive');
    }
    h.add(sample(3, storm));
    ev.evaluate(h);
    expect(phase()).toMatchObject({ phase: 'pending', activeAt: 3000 });
    h.add(sample(4, storm)); // 1 s after it first held: stormFor
    ev.evaluate(h);
    expect(phase()).toMatchObject({ phase: 'firing', firedAt: 4000 });
    expect(phase()?.description).toBe(
      "n1 makes 404 mount syscalls (102 new mounts, each attached and detached again; 204 attach and detach events seen) per container start, at 1.6 starts/s (counted in the container runtimes' own records), most of them registry.example/web:1: the runtime idmaps every image layer (100 idmapped mounts per start, of n/a-layer images); containerd 2.1.5 / 2.0.7 / 2.2.0 idmap the layers' common parent instead, about 54 mount syscalls per start whatever the layer count. Lock wait: 104ms per second inside mount syscalls, mount table reads 30us slower than baseline. Pod health checks fail within ~30 s if this continues.",
    );
    // The storm stops: the condition stops holding once the start rate falls; the alert fires on
    // for stormKeepFiringFor (10 s) after that, and resolves at the sample 10 s after it last held.
    const imminent = ALERTS.find((a) => a.name === 'MountStormImminent')!;
    let stopped: number | undefined;
    for (let t = 5; t < 40; t++) {
      h.add(sample(t, { starts: 0, syscalls: 0, events: 0 }));
      ev.evaluate(h);
      if (stopped === undefined && !holds(imminent.condition!, h, cfg)) stopped = t;
      if (stopped === undefined || t < stopped + 10) expect(phase()?.phase).toBe('firing');
      else expect(phase()).toMatchObject({ phase: 'inactive', resolvedAt: (stopped + 10) * 1000 });
    }
    expect(stopped).toBeDefined();
  });

  test('the page names the storm it sees: masked paths, per-layer idmapping, both, or neither; never the per-layer fix for masks', () => {
    const describe = (x: Partial<typeof storm> & Input) => {
      const a = imminentAfter({ ...storm, ...x });
      expect(a?.phase).toBe('firing');
      return a?.description ?? '';
    };
    const PER_LAYER_FIX = "idmap the layers' common parent";
    // 4 starts a second masking 207 paths each, 192 per CPU; no idmapped mount: 436 syscalls per start.
    const masks = describe({ syscalls: 1744, idmaps: 0, masked: 828, perCpu: 768 });
    expect(masks).toContain(
      'the OCI runtime masks 207 paths per container start (192 of them one per CPU: the thermal_throttle masks',
    );
    expect(masks).toContain('runc 1.5.0 / 1.4.3 / 1.3.6');
    expect(masks).not.toContain(PER_LAYER_FIX);
    const perLayer = describe({ masked: 60 });
    expect(perLayer).toContain('the runtime idmaps every image layer (100 idmapped mounts per start');
    expect(perLayer).not.toContain('the OCI runtime masks');
    const both = describe({ masked: 444, perCpu: 384 });
    expect(both).toContain(PER_LAYER_FIX);
    expect(both).toContain('; and the OCI runtime masks 111 paths per container start (96 of them one per CPU');
    const neither = describe({ idmaps: 0, masked: 60 });
    expect(neither).toContain(
      'neither per-layer idmapping (0 idmapped mounts per start) nor masked paths (15 per start) nor namespace copies (0s per start)',
    );
    expect(neither).not.toContain(PER_LAYER_FIX);
    // 4 starts a second each copying a table of 5,000 mounts, 30 ms per copy (the drill's figure),
    // a handful of mount syscalls besides: the copies, whatever else the starts mount.
    const copies = describe({
      syscalls: 32,
      idmaps: 0,
      masked: 60,
      mountSeconds: 0.125,
      copySeconds: 0.12,
      entries: 5000,
    });
    expect(copies).toContain(
      'each start copies the whole mount table into its new mount namespace with namespace_sem held for writing (30ms per start inside unshare, 96% of the time in mount syscalls; the watched table holds 5k mounts)',
    );
    expect(copies).toContain('OPEN_TREE_NAMESPACE');
    expect(copies).not.toContain(PER_LAYER_FIX);
    expect(copies).not.toContain('the OCI runtime masks');
    // The same copies in a per-layer storm that spends most of its time in mount syscalls: per-layer named.
    expect(describe({ mountSeconds: 0.5, copySeconds: 0.12, entries: 5000, masked: 60 })).toContain(PER_LAYER_FIX);
  });

  test("a copy storm pages on its copies' time, per start and together: few mount syscalls, each start copying a big table", () => {
    const phase = (starts: number, copySeconds: number) =>
      imminentAfter({
        starts,
        syscalls: 2 * starts,
        events: 2 * starts,
        lockWait: 0.1,
        mountSeconds: copySeconds + 0.001,
        copySeconds,
      })?.phase;
    // 5,000 mounts copied at 20 starts/s: 12 ms per start against the 5 ms threshold, 0.24 s/s of copies.
    expect(phase(20, 0.24)).toBe('firing');
    // 500 mounts: 0.9 ms per start does not page.
    expect(phase(20, 0.018)).toBe('inactive');
    // A small table's copies stretched to 6.5 ms each by a busy node (a burst of plain podman starts,
    // 1.5 a second): long per start, but 0.01 s/s together, under stormCopyLoad.
    expect(phase(1.5, 0.00975)).toBe('inactive');
    // The same copies at 20 starts/s take 0.13 s/s: a storm.
    expect(phase(20, 0.13)).toBe('firing');
  });

  test('new mounts per start page a storm of few syscalls: 100 binds per start pages, 50 do not', () => {
    // test/support/bind-storm.py: per start an unshare, / made private and the binds (101 syscalls at 100).
    const phase = (made: number) =>
      imminentAfter({ starts: 20, syscalls: 20 * (made + 1), made: 20 * made, lockWait: 0.09 });
    const paged = phase(100);
    expect(paged?.phase).toBe('firing');
    expect(paged?.description).toContain('101 mount syscalls (100 new mounts, each attached and detached again');
    expect(paged?.description).toContain('neither per-layer idmapping');
    expect(phase(50)?.phase).toBe('inactive');
  });

  test('the page names the readers where they are counted, and says nothing of them where they are not', () => {
    // The storm's mounts spend 0.5 s/s in their syscalls, 0.25 of it waiting on locks: 0.25 s/s of
    // their own work, against the readers' 17 ms of reading (24 opens × 1,200 mounts × 0.6 µs).
    const describe = (opens?: number) =>
      imminentAfter({ ...storm, mountSeconds: 0.5, opens, entries: 1200 }, { starts: 0, syscalls: 0, events: 0, opens })
        ?.description ?? '';
    // systemd re-reading a 1,200-mount table 30 times a second, for the 7 s after the first sample
    // (the 10 s window's rate, as the rule's: 24 a second).
    expect(describe(30)).toMatch(/: the runtime idmaps every image layer/);
    expect(describe(30)).toMatch(
      /slower than baseline\. Readers opened the mount table 24 times a second, each open a read of all 1\.2k mounts under namespace_sem/,
    );
    expect(describe(undefined)).not.toMatch(/Readers/);
    expect(describe(undefined)).toMatch(/slower than baseline\. Pod health checks/);
  });

  test('readers that hold the table longer than the mounts work on it are the cause the page names, once', () => {
    // The mounts: 0.3 s/s inside their syscalls, 0.25 of it waiting (on the readers): 35 ms a second
    // of their own work over the window (7 s of its 10). The readers: 30 opens a second of a
    // 5,000-mount table, 24 a second over the window: 72 ms of reading a second (× 0.6 µs a mount).
    const x = { ...storm, mountSeconds: 0.3, opens: 30, entries: 5000 };
    const d = imminentAfter(x, { starts: 0, syscalls: 0, events: 0, opens: 30 })?.description ?? '';
    expect(d).toMatch(
      /: readers hold the mount table longer than the mounts work on it: they opened it 24 times a second, each open a read of all 5k mounts with namespace_sem held for reading \(about 72ms of reading a second, 67\.29% of it and the mounts' own work together/,
    );
    expect(d).toMatch(/systemd PR 42528 follows fanotify mount events/);
    // Named once: the sentence for readers that are counted but not the cause is not added.
    expect(d).not.toMatch(/Readers opened/);
    // Never the per-layer words, though the starts idmap every layer.
    expect(d).not.toMatch(/the runtime idmaps every image layer/);
    // Where the mounts work longer than the readers read, the cause is theirs again.
    const mounts = imminentAfter({ ...x, mountSeconds: 0.4 }, { starts: 0, syscalls: 0, events: 0, opens: 30 });
    expect(mounts?.description).toMatch(/: the runtime idmaps every image layer/);
    expect(mounts?.description).toMatch(/Readers opened the mount table 24 times a second/);
  });

  test("a storm's first seconds, before on-demand tracing armed, do not dilute the per-start figures nor lock wait", () => {
    const h = new History();
    const ev = new Evaluator(DEFAULT_ALERTS_CONFIG, 'n1');
    const at = () => ev.current().find((a) => a.name === 'MountStormImminent')?.phase;
    h.add(sample(0, { starts: 0, syscalls: 0, traced: 0 }));
    // 1 s in: 100 starts, tracing not armed yet (the start rate arms it).
    h.add(sample(1, { starts: 100, syscalls: 0, traced: 0 }));
    ev.evaluate(h);
    expect(at()).toBe('inactive');
    // 2 s in: armed for the last 0.4 s of the sample: 40 starts' mounts were seen, and 0.04 s of lock wait.
    h.add(sample(2, { starts: 100, syscalls: 40 * 101, made: 40 * 100, lockWait: 0.036, traced: 0.4 }));
    ev.evaluate(h);
    const madePerStart = signal('madePerStart').node(h, DEFAULT_ALERTS_CONFIG) as number;
    // Over the starts of the traced time: 100 per start, not 4,000 / 200 = 20.
    expect(madePerStart).toBeCloseTo(100, 5);
    // Lock wait per traced second: 0.09 s/s, not 0.036 over the window.
    expect(signal('lockWaitRate').node(h, DEFAULT_ALERTS_CONFIG)).toBeCloseTo(0.09, 5);
    expect(at()).toBe('pending');
    for (const t of [3, 4]) {
      h.add(sample(t, { starts: 100, syscalls: 100 * 101, made: 100 * 100, lockWait: 0.09 }));
      ev.evaluate(h);
    }
    expect(at()).toBe('firing');
  });

  test('the evaluator exports the starts of the traced time, once per sample, for the rules to divide by', async () => {
    const e = new Exposition();
    const h = new History();
    const ev = new Evaluator(DEFAULT_ALERTS_CONFIG, 'n1', e);
    const counted = async () =>
      Number(/^mountstorm_container_starts_traced_total (\S+)$/m.exec(await e.render('prometheus'))?.[1]);
    h.add(sample(0, { starts: 0, syscalls: 0, traced: 0 }));
    ev.evaluate(h);
    h.add(sample(1, { starts: 100, syscalls: 0, traced: 0 }));
    ev.evaluate(h);
    h.add(sample(2, { starts: 100, syscalls: 4040, traced: 0.4 }));
    ev.evaluate(h);
    // The same point evaluated again counts nothing more.
    ev.evaluate(h);
    expect(await counted()).toBeCloseTo(40, 9);
    h.add(sample(3, { starts: 10, syscalls: 1010 }));
    ev.evaluate(h);
    e.invalidate(); // as the sampler does after each sample
    expect(await counted()).toBeCloseTo(50, 9);
  });

  test('the description names the image behind the most mount work: starts × layers where overlays were found, else starts', () => {
    const describe = (layers?: { web: number; db: number }) => imminentAfter({ ...storm, layers })?.description ?? '';
    // web: 3 starts a second of 5 layers (15 layer mounts); db: 1 of 100 (100).
    expect(describe({ web: 5, db: 100 })).toContain('most of them registry.example/db:2:');
    // web: 3 × 50 = 150 against db's 1 × 100.
    expect(describe({ web: 50, db: 100 })).toContain('most of them registry.example/web:1:');
    // No overlay found: by starts.
    expect(describe()).toContain('most of them registry.example/web:1:');
  });

  test('keep_firing_for: a clause that dips for a few samples mid-storm does not resolve the page', () => {
    const h = new History();
    const ev = new Evaluator(DEFAULT_ALERTS_CONFIG, 'n1');
    const phase = () => ev.current().find((a) => a.name === 'MountStormImminent')?.phase;
    for (let t = 0; t < 12; t++) {
      h.add(sample(t, t === 0 ? { starts: 0, syscalls: 0, events: 0 } : storm));
      ev.evaluate(h);
    }
    expect(phase()).toBe('firing');
    // Lock wait gone for 5 s (the probe at baseline, nothing measured): the condition does not hold…
    for (let t = 12; t < 17; t++) {
      h.add(sample(t, { ...storm, lockWait: 0, ns: 0 }));
      ev.evaluate(h);
      expect(phase()).toBe('firing');
    }
    // …and back: still the same firing alert, never resolved in between.
    for (let t = 17; t < 22; t++) {
      h.add(sample(t, storm));
      ev.evaluate(h);
      expect(phase()).toBe('firing');
    }
    expect(ev.current().find((a) => a.name === 'MountStormImminent')?.resolvedAt).toBeUndefined();
  });

  test("the fixed runtime's churn, as busy, with the same lock wait: never the page", () => {
    const h = new History();
    const ev = new Evaluator(DEFAULT_ALERTS_CONFIG, 'n1');
    for (let t = 0; t < 40; t++) {
      h.add(sample(t, t === 0 ? {} : fixed));
      for (const a of ev.evaluate(h)) expect(a.phase).toBe('inactive');
    }
  });

  test('a missing signal is false, as a missing series is: no containers collector, no page from the signature', () => {
    const h = new History();
    const ev = new Evaluator(DEFAULT_ALERTS_CONFIG, 'n1');
    for (let t = 0; t < 20; t++) h.add(sample(t, { syscalls: 1616, events: 816, lockWait: 0.25 }));
    expect(ev.evaluate(h).find((a) => a.name === 'MountStormImminent')?.phase).toBe('inactive');
    expect(nodeDescription(ALERTS[0]?.description ?? [], h, DEFAULT_ALERTS_CONFIG, 'n1')).toMatch(
      /^n1 makes n\/a mount syscalls/,
    );
  });

  test('readers blocked: namespace_sem above its critical threshold pages whatever the cause', () => {
    const h = new History();
    const ev = new Evaluator(DEFAULT_ALERTS_CONFIG, 'n1');
    for (let t = 0; t <= 3; t++) {
      h.add(sample(t, { ns: 0.1 }));
      ev.evaluate(h);
    }
    expect(ev.current().find((a) => a.name === 'MountStormLockWaitHigh')?.phase).toBe('firing');
  });
});

describe('History: rates as PromQL computes them', () => {
  test('rate over aligned 1 s samples is the counts after the first point in the window over the window', () => {
    const h = new History();
    for (let t = 0; t <= 30; t++) h.add(sample(t, { starts: t }));
    // Window [20, 30]: counts of 21..30 over 10 s.
    expect(h.rate('starts', 10_000)).toBeCloseTo(((21 + 30) * 5) / 10, 10);
    expect(h.increase('starts', 10_000)).toBeCloseTo(255, 10);
  });

  test('a series younger than the window extrapolates by half an interval, as rate() does', () => {
    const h = new History();
    h.add(sample(0, { starts: 1000 }));
    for (let t = 1; t <= 4; t++) h.add(sample(t, { starts: 2 }));
    // 4 s sampled, 8 counted, the start gap (6 s) is over 1.1 intervals: extrapolate by 0.5 s.
    expect(h.increase('starts', 10_000)).toBeCloseTo((8 * 4.5) / 4, 10);
  });

  test('…but never past where the counter was zero', () => {
    const h = new History();
    for (let t = 0; t <= 4; t++) h.add(sample(t, { starts: 2 }));
    // The counter read 2 at the first point: zero 1 s before it (4 s × 2 / 8), so 1 s more.
    expect(h.increase('starts', 10_000)).toBeCloseTo((8 * 5) / 4, 10);
  });

  test('one point is no rate', () => {
    const h = new History();
    h.add(sample(0, { starts: 3 }));
    expect(h.rate('starts', 10_000)).toBeUndefined();
  });
});

describe("Prometheus's template functions", () => {
  test.each([
    [0, '0'],
    [1234, '1.234k'],
    [1_500_000, '1.5M'],
    [0.0123, '12.3m'],
    [0.000005, '5u'],
    [42, '42'],
  ])('humanize(%p) = %p', (v, s) => expect(humanize(v)).toBe(s));

  test.each([
    [0.005, '5ms'],
    [0.00003, '30us'],
    [1.5, '1.5s'],
    [90, '1m 30s'],
    [3700, '1h 1m 40s'],
    [90000, '1d 1h 0m 0s'],
  ])('humanizeDuration(%p) = %p', (v, s) => expect(humanizeDuration(v)).toBe(s));

  test('%.4g and the other formats', () => {
    expect(g4(12346)).toBe('1.235e+04');
    expect(g4(0.00001234)).toBe('1.234e-05');
    expect(formatValue(0.9, 'humanizePercentage')).toBe('90%');
    expect(formatValue(403.6, 'integer')).toBe('404');
    expect(formatValue(undefined, 'humanize')).toBe('n/a');
  });
});

describe('Alertmanager config', () => {
  test('PagerDuty severities are only the four the Events API accepts; routing keys come from files', () => {
    const am = yaml.load(fs.readFileSync(AM_CONFIG, 'utf8')) as {
      receivers: {
        name: string;
        pagerduty_configs?: { severity: string; routing_key_file?: string; routing_key?: string }[];
      }[];
    };
    for (const r of am.receivers)
      for (const p of r.pagerduty_configs ?? []) {
        expect(['critical', 'error', 'warning', 'info']).toContain(p.severity);
        expect(p.routing_key).toBeUndefined();
        expect(p.routing_key_file).toMatch(/^\/etc\/alertmanager\/secrets\//);
      }
  });
});
