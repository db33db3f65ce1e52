/**
 * The node's state for the landing page: after every sample, the figures that matter are read back
 * from the exposition (so the page shows exactly what /metrics says) into a ring buffer covering the
 * last 10 minutes. Rates use the same 30 s window as the recording rules, and the alert conditions
 * the same thresholds as alerts/ (src/alerts/thresholds.ts), without their `for`.
 */
import { THRESHOLDS as T } from '../alerts/thresholds';
import type { Exposition } from '../exposition';

export const HISTORY_MS = 10 * 60_000;
const RATE_WINDOW_MS = 30_000;

export interface Point {
  t: number;
  mounts?: number;
  added?: number;
  syscalls?: number;
  lockWait?: number;
  lost?: number;
  ns?: number;
  ml?: number;
}

export interface Condition {
  alert: string;
  severity: 'critical' | 'warning' | 'info';
  holds: boolean;
  detail: string;
}

export interface NodeState {
  version: string;
  now: number;
  sampleIntervalMs: number;
  samples: number;
  node: {
    mounts?: number;
    mountMax?: number;
    utilisation?: number;
    churnPerSecond?: number;
    syscallsPerSecond?: number;
    lockWaitSecondsPerSecond?: number;
    namespaceSem: { estimate?: number; baseline?: number };
    mountLock: { estimate?: number; baseline?: number };
    overlayLayersMax?: number;
    idmappedMounts?: number;
  };
  topology: { sockets?: number; numaNodes?: number; smt?: boolean; cpuModel?: string; systemVendor?: string; systemModel?: string };
  tracefs: boolean;
  collectors: Record<string, boolean>;
  conditions: Condition[];
  /** Per-interval values between consecutive samples, for the charts. */
  history: { t: number[]; mounts: (number | null)[]; churn: (number | null)[]; syscalls: (number | null)[]; lockWait: (number | null)[]; ns: (number | null)[]; ml: (number | null)[] };
}

type Values = Array<{ labels: Record<string, string | number>; value: number }>;

export class StateRecorder {
  private readonly points: Point[] = [];
  private latest: { values: Map<string, Values>; samples: number } = { values: new Map(), samples: 0 };

  constructor(
    private readonly exposition: Exposition,
    private readonly sampleIntervalMs: number,
    private readonly version: string,
  ) {}

  private static sum(v: Values | undefined, match: Record<string, string> = {}): number | undefined {
    if (!v) return undefined;
    const hits = v.filter((s) => Object.entries(match).every(([k, x]) => String(s.labels[k]) === x));
    return hits.length === 0 ? undefined : hits.reduce((a, s) => a + s.value, 0);
  }

  /** Called after each sample: reads the figures back and appends a point. */
  async record(now = Date.now()): Promise<void> {
    const names = [
      'mountstorm_mounts',
      'mountstorm_mount_max',
      'mountstorm_mounts_added_total',
      'mountstorm_mount_syscalls_total',
      'mountstorm_mount_lock_wait_seconds_total',
      'mountstorm_trace_events_lost_total',
      'mountstorm_lock_wait_estimate_seconds',
      'mountstorm_probe_baseline_seconds',
      'mountstorm_overlay_lower_layers_max',
      'mountstorm_idmapped_mounts',
      'mountstorm_cpu_topology_info',
      'mountstorm_host_info',
      'mountstorm_scrape_collector_success',
      'mountstorm_samples_total',
    ];
    const values = new Map<string, Values>();
    for (const n of names) {
      const v = await this.exposition.values(n);
      if (v) values.set(n, v);
    }
    const s = StateRecorder.sum;
    const syscallSeries = values.get('mountstorm_mount_syscalls_total');
    this.points.push({
      t: now,
      mounts: s(values.get('mountstorm_mounts')),
      added: s(values.get('mountstorm_mounts_added_total')),
      syscalls: syscallSeries && syscallSeries.length > 0 ? s(syscallSeries) : undefined,
      lockWait: syscallSeries && syscallSeries.length > 0 ? (s(values.get('mountstorm_mount_lock_wait_seconds_total')) ?? 0) : undefined,
      lost: s(values.get('mountstorm_trace_events_lost_total')),
      ns: s(values.get('mountstorm_lock_wait_estimate_seconds'), { lock: 'namespace_sem' }),
      ml: s(values.get('mountstorm_lock_wait_estimate_seconds'), { lock: 'mount_lock' }),
    });
    while (this.points.length > 0 && now - (this.points[0] as Point).t > HISTORY_MS) this.points.shift();
    this.latest = { values, samples: s(values.get('mountstorm_samples_total')) ?? 0 };
  }

  /** Rate of a counter over the last `windowMs` of points (as Prometheus's rate over 30 s). */
  private rate(key: 'added' | 'syscalls' | 'lockWait', windowMs = RATE_WINDOW_MS): number | undefined {
    const last = this.points[this.points.length - 1];
    if (!last || last[key] === undefined) return undefined;
    const first = this.points.find((p) => p.t >= last.t - windowMs && p[key] !== undefined);
    if (!first || first === last) return undefined;
    const d = (last[key] as number) - (first[key] as number);
    return Math.max(0, d) / ((last.t - first.t) / 1000);
  }

  state(): NodeState {
    const v = this.latest.values;
    const s = StateRecorder.sum;
    const topo = v.get('mountstorm_cpu_topology_info')?.[0]?.labels;
    const host = v.get('mountstorm_host_info')?.[0]?.labels;
    const mounts = s(v.get('mountstorm_mounts'));
    const mountMax = s(v.get('mountstorm_mount_max'));
    const last = this.points[this.points.length - 1];
    const node: NodeState['node'] = {
      mounts,
      mountMax,
      utilisation: mounts !== undefined && mountMax ? mounts / mountMax : undefined,
      churnPerSecond: this.rate('added'),
      syscallsPerSecond: this.rate('syscalls'),
      lockWaitSecondsPerSecond: this.rate('lockWait'),
      namespaceSem: { estimate: last?.ns, baseline: s(v.get('mountstorm_probe_baseline_seconds'), { probe: 'namespace_sem' }) },
      mountLock: { estimate: last?.ml, baseline: s(v.get('mountstorm_probe_baseline_seconds'), { probe: 'mount_lock' }) },
      overlayLayersMax: s(v.get('mountstorm_overlay_lower_layers_max')),
      idmappedMounts: s(v.get('mountstorm_idmapped_mounts')),
    };
    const topology: NodeState['topology'] = {
      sockets: topo ? Number(topo.sockets) : undefined,
      numaNodes: topo ? Number(topo.numa_nodes) : undefined,
      smt: topo ? topo.smt === 'on' : undefined,
      cpuModel: topo ? String(topo.cpu_model) : undefined,
      systemVendor: host ? String(host.system_vendor) : undefined,
      systemModel: host ? String(host.system_model) : undefined,
    };
    const collectors: Record<string, boolean> = {};
    for (const c of v.get('mountstorm_scrape_collector_success') ?? []) collectors[String(c.labels.collector)] = c.value === 1;
    const tracefs = last?.syscalls !== undefined;
    return {
      version: this.version,
      now: Date.now(),
      sampleIntervalMs: this.sampleIntervalMs,
      samples: this.latest.samples,
      node,
      topology,
      tracefs,
      collectors,
      conditions: this.conditions(node, topology, collectors),
      history: this.history(),
    };
  }

  private conditions(n: NodeState['node'], topo: NodeState['topology'], collectors: Record<string, boolean>): Condition[] {
    const fmt = (x: number | undefined, digits = 1) => (x === undefined ? 'n/a' : x.toFixed(digits));
    const ms = (x: number | undefined) => (x === undefined ? 'n/a' : Math.abs(x) < 0.001 ? `${(x * 1e6).toFixed(1)} µs` : `${(x * 1000).toFixed(2)} ms`);
    const churning = (n.churnPerSecond ?? 0) > T.churnPerSecond || (n.syscallsPerSecond ?? 0) > T.syscallsPerSecond;
    const waiting = (n.namespaceSem.estimate ?? 0) > T.leadingLockWaitSeconds || (n.lockWaitSecondsPerSecond ?? 0) > T.leadingMeasuredLockWaitRatio;
    const first = this.points[0];
    const last = this.points[this.points.length - 1];
    const spanMs = first && last ? last.t - first.t : 0;
    const growthPerHour = first && last && spanMs >= 5 * 60_000 && first.mounts !== undefined && last.mounts !== undefined ? ((last.mounts - first.mounts) / spanMs) * 3_600_000 : undefined;
    const lostRecently = first && last && first.lost !== undefined && last.lost !== undefined ? last.lost - first.lost : undefined;
    const failing = Object.entries(collectors).filter(([, ok]) => !ok).map(([c]) => c);
    return [
      {
        alert: 'MountStormImminent',
        severity: 'critical',
        holds: churning && waiting,
        detail: `churn ${fmt(n.churnPerSecond)}/s (> ${T.churnPerSecond}) or syscalls ${fmt(n.syscallsPerSecond)}/s (> ${T.syscallsPerSecond}), with namespace_sem estimate ${ms(n.namespaceSem.estimate)} (> ${T.leadingLockWaitSeconds * 1000} ms) or measured lock wait ${fmt(n.lockWaitSecondsPerSecond, 3)} s/s (> ${T.leadingMeasuredLockWaitRatio})`,
      },
      { alert: 'MountStormLockWaitHigh', severity: 'critical', holds: (n.namespaceSem.estimate ?? 0) > T.lockWaitCriticalSeconds, detail: `namespace_sem estimate ${ms(n.namespaceSem.estimate)} (> ${T.lockWaitCriticalSeconds * 1000} ms)` },
      { alert: 'MountStormPathWalkStall', severity: 'warning', holds: (n.mountLock.estimate ?? 0) > T.pathWalkStallSeconds, detail: `mount_lock estimate ${ms(n.mountLock.estimate)} per lookup (> ${T.pathWalkStallSeconds * 1000} ms)` },
      { alert: 'MountTableNearMax', severity: 'warning', holds: (n.utilisation ?? 0) > T.tableNearMaxRatio, detail: `${n.utilisation === undefined ? 'n/a' : (n.utilisation * 100).toFixed(1) + ' %'} of fs.mount-max (> ${T.tableNearMaxRatio * 100} %)` },
      {
        alert: 'MountTableRunawayGrowth',
        severity: 'warning',
        holds: growthPerHour !== undefined && growthPerHour > T.runawayGrowthPerHour,
        detail: growthPerHour === undefined ? 'needs 5 minutes of history' : `growing ${growthPerHour.toFixed(0)} mounts/h (> ${T.runawayGrowthPerHour})`,
      },
      {
        alert: 'MountStormDeepLayersRiskyTopology',
        severity: 'info',
        holds: (n.overlayLayersMax ?? 0) > T.deepLayers && ((topo.sockets ?? 1) > 1 || topo.smt === true),
        detail: `deepest overlay ${n.overlayLayersMax ?? 'n/a'} layers (> ${T.deepLayers}) on ${topo.sockets ?? '?'} socket(s), SMT ${topo.smt ? 'on' : 'off'}`,
      },
      { alert: 'MountStormCollectorFailing', severity: 'warning', holds: failing.length > 0, detail: failing.length > 0 ? `failing: ${failing.join(', ')}` : 'all collectors succeeded' },
      { alert: 'MountStormTraceEventsLost', severity: 'warning', holds: (lostRecently ?? 0) > 0, detail: lostRecently === undefined ? 'tracefs off' : `${lostRecently} events lost in the last 10 minutes` },
    ];
  }

  private history(): NodeState['history'] {
    const h: NodeState['history'] = { t: [], mounts: [], churn: [], syscalls: [], lockWait: [], ns: [], ml: [] };
    const per = (a: number | undefined, b: number | undefined, secs: number) => (a === undefined || b === undefined || secs <= 0 ? null : Math.max(0, b - a) / secs);
    for (let i = 1; i < this.points.length; i++) {
      const a = this.points[i - 1] as Point;
      const b = this.points[i] as Point;
      const secs = (b.t - a.t) / 1000;
      h.t.push(b.t);
      h.mounts.push(b.mounts ?? null);
      h.churn.push(per(a.added, b.added, secs));
      h.syscalls.push(per(a.syscalls, b.syscalls, secs));
      h.lockWait.push(per(a.lockWait, b.lockWait, secs));
      h.ns.push(b.ns ?? null);
      h.ml.push(b.ml ?? null);
    }
    return h;
  }
}
