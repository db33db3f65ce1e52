/**
 * The node's state for the landing page: every sample (src/sample.ts: the same typed parts the
 * collectors turned into /metrics) leaves a point in a ring buffer covering the last 10 minutes.
 * Rates use the same 30 s window as the recording rules, and the alert conditions the same
 * thresholds as alerts/ (src/alerts/thresholds.ts), without their `for`.
 */
import { THRESHOLDS as T } from '../alerts/thresholds';
import type { Sample } from '../sample';

export const HISTORY_MS = 10 * 60_000;
const RATE_WINDOW_MS = 30_000;

/** One sample, as the page needs it: gauges as of the sample, counts since the previous one. */
export interface Point {
  t: number;
  mounts?: number;
  added?: number;
  /** Undefined where tracefs had no data that sample. */
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

export class StateRecorder {
  private readonly points: Point[] = [];
  private latest: Sample | undefined;
  private samples = 0;

  constructor(
    private readonly sampleIntervalMs: number,
    private readonly version: string,
  ) {}

  /** Called with each sample. */
  record(s: Sample): void {
    const { mounts, probes, tracefs } = s.parts;
    this.points.push({
      t: s.at,
      mounts: mounts?.mounts,
      added: mounts?.added,
      syscalls: tracefs?.syscalls,
      lockWait: tracefs?.lockWaitSeconds,
      lost: tracefs?.lost,
      ns: probes?.namespace_sem?.estimate,
      ml: probes?.mount_lock?.estimate,
    });
    while (this.points.length > 0 && s.at - (this.points[0] as Point).t > HISTORY_MS) this.points.shift();
    // Gauges that a collector reports only now and then (the table between readings, the probes
    // while one is stuck) stand as last reported, as they do in /metrics.
    this.latest = { ...s, parts: { ...this.latest?.parts, ...s.parts } };
    this.samples++;
  }

  /** Rate of a per-sample count over the last `windowMs` (as Prometheus's rate over 30 s). */
  private rate(key: 'added' | 'syscalls' | 'lockWait', windowMs = RATE_WINDOW_MS): number | undefined {
    const last = this.points[this.points.length - 1];
    if (!last || last[key] === undefined) return undefined;
    const inWindow = this.points.filter((p) => p.t >= last.t - windowMs && p[key] !== undefined);
    const first = inWindow[0];
    if (!first || first === last) return undefined;
    // The first point's count happened before the window began.
    const sum = inWindow.slice(1).reduce((n, p) => n + (p[key] as number), 0);
    return sum / ((last.t - first.t) / 1000);
  }

  state(): NodeState {
    const parts = this.latest?.parts ?? {};
    const { mounts: m, probes, cpu, host } = parts;
    const last = this.points[this.points.length - 1];
    const node: NodeState['node'] = {
      mounts: m?.mounts,
      mountMax: m?.mountMax,
      utilisation: m !== undefined && m.mountMax ? m.mounts / m.mountMax : undefined,
      churnPerSecond: this.rate('added'),
      syscallsPerSecond: this.rate('syscalls'),
      lockWaitSecondsPerSecond: this.rate('lockWait'),
      namespaceSem: { estimate: probes?.namespace_sem?.estimate, baseline: probes?.namespace_sem?.baseline },
      mountLock: { estimate: probes?.mount_lock?.estimate, baseline: probes?.mount_lock?.baseline },
      overlayLayersMax: m?.layersMax,
      idmappedMounts: m?.idmapped,
    };
    const topology: NodeState['topology'] = {
      sockets: cpu?.topology.sockets,
      numaNodes: cpu?.topology.numaNodes,
      smt: cpu?.topology.smt,
      cpuModel: cpu?.topology.cpuModel,
      systemVendor: host?.vendor,
      systemModel: host?.model,
    };
    const collectors: Record<string, boolean> = {};
    for (const [name, c] of Object.entries(this.latest?.collectors ?? {})) collectors[name] = c.ok;
    return {
      version: this.version,
      now: Date.now(),
      sampleIntervalMs: this.sampleIntervalMs,
      samples: this.samples,
      node,
      topology,
      tracefs: last?.syscalls !== undefined,
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
    const lostRecently = this.points.some((p) => p.lost !== undefined) ? this.points.slice(1).reduce((a, p) => a + (p.lost ?? 0), 0) : undefined;
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
    for (let i = 1; i < this.points.length; i++) {
      const a = this.points[i - 1] as Point;
      const b = this.points[i] as Point;
      const secs = (b.t - a.t) / 1000;
      const per = (n: number | undefined) => (n === undefined || secs <= 0 ? null : n / secs);
      h.t.push(b.t);
      h.mounts.push(b.mounts ?? null);
      h.churn.push(per(b.added));
      h.syscalls.push(per(b.syscalls));
      h.lockWait.push(per(b.lockWait));
      h.ns.push(b.ns ?? null);
      h.ml.push(b.ml ?? null);
    }
    return h;
  }
}
