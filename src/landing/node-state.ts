/**
 * The node's state for the landing page, from the node's History (src/sample/history.ts: the same
 * typed parts the collectors turned into /metrics): figures over the alert spec's fast window, the
 * charts over the last 10 minutes, and every alert condition of the one spec evaluated over the same
 * samples (the node alerts with their pending / firing state from the evaluator).
 */
import type { AlertsConfig } from '../alerts/config';
import { explain, type AlertPhase, type Evaluator, holds } from '../alerts/evaluate';
import { ALERTS } from '../alerts/spec';
import type { PageCapability } from '../alerts/capability';
import { IMAGES_MS, type History, type Point } from '../sample/history';
import { signal } from '../alerts/signals';

export const CHART_MS = 10 * 60_000;

export interface ConditionState {
  alert: string;
  severity: 'critical' | 'warning' | 'info';
  holds: boolean;
  /** For the node alerts: the evaluator's state (pending until held for `for`). */
  phase?: AlertPhase;
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
    eventsPerSecond?: number;
    startsPerSecond?: number;
    syscallsPerStart?: number;
    eventsPerStart?: number;
    namespaceSem: { estimate?: number; baseline?: number };
    mountLock: { estimate?: number; baseline?: number };
    overlayLayersMax?: number;
    idmappedMounts?: number;
  };
  topology: {
    sockets?: number;
    numaNodes?: number;
    smt?: boolean;
    cpuModel?: string;
    systemVendor?: string;
    systemModel?: string;
  };
  /**
   * What a container start costs on this node, before any storm: the mounts kubelet's and
   * containerd's per-CPU masks add to every start (one per CPU), what the starts of the fast window
   * masked, idmapped and mounted per start, the mounts every new mount namespace copies (the watched table)
   * and the time each spent copying, and the cause the storm page would name for those starts.
   */
  startCost: {
    cpus?: number;
    maskedPathsPerStart?: number;
    perCpuMaskedPathsPerStart?: number;
    idmapsPerStart?: number;
    /** New mounts made per start by the mount syscalls, in every namespace (tracefs). */
    madePerStart?: number;
    tableCopied?: number;
    /** Seconds per start inside unshare(CLONE_NEWNS) (tracefs): the copies' time. */
    copySecondsPerStart?: number;
    cause?: string;
  };
  /**
   * Container starts since the exporter started, by the runtime whose records told of them; and the
   * start signal the per-start figures use: `runtime` (a runtime directory watched) or `kernel` (new
   * mount namespaces).
   */
  starts: { signal?: 'runtime' | 'kernel'; byRuntime: Record<string, number> };
  tracefs: boolean;
  collectors: Record<string, boolean>;
  /** Whether this exporter can page on a storm at all, and what it lacks (src/alerts/capability.ts); absent before the first sample. */
  page?: PageCapability;
  conditions: ConditionState[];
  /**
   * The images behind the container starts of the last IMAGES_MS (at most 10), by the mount work
   * they brought (History.imageWork: starts × their rootfs overlays' layers where found, else starts).
   */
  images: { image: string; starts: number; startLayers?: number }[];
  /** The deepest images running now: their rootfs overlays' lower layers (at most --collector.containers.image-series). */
  deepest: { image: string; layers: number; containers: number }[];
  /** Per-interval values between consecutive samples, for the charts. */
  history: {
    t: number[];
    mounts: (number | null)[];
    churn: (number | null)[];
    syscalls: (number | null)[];
    lockWait: (number | null)[];
    ns: (number | null)[];
    ml: (number | null)[];
  };
}

export class NodeStateView {
  constructor(
    private readonly history: History,
    private readonly evaluator: Evaluator,
    private readonly cfg: AlertsConfig,
    private readonly sampleIntervalMs: number,
    private readonly version: string,
    private readonly capability: () => PageCapability | undefined = () => undefined,
  ) {}

  private value(id: string): number | undefined {
    return signal(id).node(this.history, this.cfg);
  }

  state(): NodeState {
    const h = this.history;
    const parts = h.latest;
    const { mounts: m, probes, cpu, host } = parts;
    const node: NodeState['node'] = {
      mounts: m?.mounts,
      mountMax: m?.mountMax,
      utilisation: m !== undefined && m.mountMax ? m.mounts / m.mountMax : undefined,
      churnPerSecond: this.value('churnRate'),
      syscallsPerSecond: this.value('syscallRate'),
      lockWaitSecondsPerSecond: this.value('lockWaitRate'),
      eventsPerSecond: this.value('eventRate'),
      startsPerSecond: this.value('startRate'),
      syscallsPerStart: this.value('syscallsPerStart'),
      eventsPerStart: this.value('eventsPerStart'),
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
    for (const [name, c] of Object.entries(h.latestSample?.collectors ?? {})) collectors[name] = c.ok;
    return {
      version: this.version,
      now: Date.now(),
      sampleIntervalMs: this.sampleIntervalMs,
      samples: h.samples,
      node,
      topology,
      startCost: {
        cpus: cpu?.topology.cpus,
        maskedPathsPerStart: this.value('maskedPathsPerStart'),
        perCpuMaskedPathsPerStart: this.value('perCpuMaskedPathsPerStart'),
        idmapsPerStart: this.value('idmapsPerStart'),
        madePerStart: this.value('madePerStart'),
        tableCopied: m?.entries,
        copySecondsPerStart: this.value('copySecondsPerStart'),
        cause: this.evaluator.stormCause(),
      },
      starts: { signal: h.startSignal, byRuntime: Object.fromEntries(h.startsByRuntime) },
      tracefs: h.last?.syscalls !== undefined,
      collectors,
      page: this.capability(),
      conditions: this.conditions(collectors),
      images: this.images(),
      deepest: h.latest.containers?.deepest ?? [],
      history: this.charts(),
    };
  }

  private images(): NodeState['images'] {
    const h = this.history;
    const starts = new Map(h.imageStarts(IMAGES_MS));
    const layers = new Map(h.imageStartLayers(IMAGES_MS));
    return h
      .imageWork(IMAGES_MS)
      .slice(0, 10)
      .map(([image]) => {
        const l = layers.get(image);
        const n = starts.get(image) ?? 0;
        return l === undefined ? { image, starts: n } : { image, starts: n, startLayers: l };
      });
  }

  /** Every alert of the spec: its condition over the node's samples (the scrape's own alerts from the collectors' health). */
  private conditions(collectors: Record<string, boolean>): ConditionState[] {
    const phases = new Map(this.evaluator.current().map((a) => [a.name, a.phase]));
    const out: ConditionState[] = [];
    for (const a of ALERTS) {
      if (a.condition) {
        out.push({
          alert: a.name,
          severity: a.severity,
          holds: holds(a.condition, this.history, this.cfg),
          phase: phases.get(a.name),
          detail: explain(a.condition, this.history, this.cfg),
        });
      } else if (a.name === 'MountStormCollectorFailing') {
        const failing = Object.entries(collectors)
          .filter(([, ok]) => !ok)
          .map(([c]) => c);
        out.push({
          alert: a.name,
          severity: a.severity,
          holds: failing.length > 0,
          detail: failing.length > 0 ? `failing: ${failing.join(', ')}` : 'all collectors succeeded',
        });
      }
    }
    return out;
  }

  private charts(): NodeState['history'] {
    const points = this.history.window(CHART_MS);
    const h: NodeState['history'] = { t: [], mounts: [], churn: [], syscalls: [], lockWait: [], ns: [], ml: [] };
    for (let i = 1; i < points.length; i++) {
      const a = points[i - 1] as Point;
      const b = points[i] as Point;
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
