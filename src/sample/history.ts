/**
 * The node's recent samples, reduced to the figures the alert spec's signals and the landing page
 * read: gauges as of each sample, counts since the previous one. Kept for an hour (the longest
 * window a signal reads); windows are in the node's own seconds.
 */
import type { Sample } from './sample';

type Reader = (s: Sample) => number | undefined;

const runtimeStarts = (s: Sample): number | undefined =>
  s.parts.containers && [...s.parts.containers.starts.values()].reduce((a, b) => a + b, 0);

/** The start signal's count this sample: the runtimes' records where a runtime directory is watched, else new mount namespaces. */
const starts = (s: Sample): number | undefined =>
  startSignal(s) === 'runtime' ? runtimeStarts(s) : s.parts.namespaces?.created;

/**
 * Where a sample's container starts come from: `runtime` where a runtime directory is watched (its
 * records are exact), else `kernel` (new mount namespaces: every container start makes one, and so
 * does anything else that unshares its mounts).
 */
export function startSignal(s: Sample): 'runtime' | 'kernel' {
  return (s.parts.containers?.watched ?? 0) > 0 ? 'runtime' : 'kernel';
}

/**
 * Each count a point holds, read from its sample: what happened since the previous sample. The
 * History sums them into running totals (a counter's values) and increase()/rate() read them as
 * PromQL reads the counters. One table, so a Point is never a second hand-kept copy of a Sample.
 */
const COUNTS = {
  /** tracefs: mount-family syscalls, seconds of lock wait, events lost. */
  syscalls: (s) => s.parts.tracefs?.syscalls,
  /** New mounts made by the mount syscalls that succeeded, in every mount namespace. */
  mountsMade: (s) => s.parts.tracefs?.mountsMade,
  /** Seconds of the sample that tracing was armed: what the tracefs counts cover. */
  tracedSeconds: (s) => s.parts.tracefs?.tracedSeconds,
  /**
   * The starts of the time tracing was armed: what the per-start tracefs figures divide by, so that
   * a storm's first seconds, before on-demand tracing armed, do not dilute them. The sample's starts
   * times the share of it that was traced (undefined without tracefs).
   */
  tracedStarts: (s) => {
    const t = s.parts.tracefs;
    const n = starts(s);
    return t && n !== undefined && s.seconds > 0 ? n * Math.min(1, t.tracedSeconds / s.seconds) : undefined;
  },
  /** mount_setattr calls: the idmapped mounts made. */
  idmaps: (s) => s.parts.tracefs?.calls.reduce((n, c) => (c.syscall === 'mount_setattr' ? n + c.count : n), 0),
  lockWait: (s) => s.parts.tracefs?.lockWaitSeconds,
  /** Seconds inside mount-family syscalls (their durations summed), and of them inside unshare(CLONE_NEWNS): the copies. */
  mountSeconds: (s) => s.parts.tracefs?.durations.reduce((n, d) => n + d.sum, 0),
  copySeconds: (s) => s.parts.tracefs?.durations.reduce((n, d) => (d.syscall === 'unshare' ? n + d.sum : n), 0),
  lost: (s) => s.parts.tracefs?.lost,
  /** Opens of a mount table file by its readers (tracefs with --collector.tracefs.readers). */
  tableOpens: (s) => s.parts.tracefs?.tableOpens,
  /** Mount attach + detach events (fanotify; undefined without them). */
  events: (s) =>
    s.parts.namespaces?.events ? s.parts.namespaces.events.attach + s.parts.namespaces.events.detach : undefined,
  /** Mounts that appeared in the watched table's readings. */
  added: (s) => s.parts.mounts?.added,
  /** Mount namespaces made that lived until a walk or scan that sees every namespace: the kernel's start signal. */
  nsCreated: (s) => s.parts.namespaces?.created,
  /** Container starts in the runtimes' own records (undefined without the containers collector). */
  runtimeStarts: (s) => runtimeStarts(s),
  /**
   * The start signal the per-start figures divide by: the runtimes' records where a runtime
   * directory is watched, else the kernel's new mount namespaces (startSignal says which).
   */
  starts,
  /** Starts whose bundle was read (the images they named, summed), and their masked paths (linux.maskedPaths), and those per CPU. */
  bundlesRead: (s) =>
    s.parts.containers ? [...s.parts.containers.images.values()].reduce((a, b) => a + b, 0) : undefined,
  maskedPaths: (s) => s.parts.containers?.maskedPaths,
  perCpuMaskedPaths: (s) => s.parts.containers?.perCpuMaskedPaths,
  /** Lower layers summed over the overlays that appeared, and how many appeared. */
  newLayers: (s) => (s.parts.mounts?.newOverlayDepths ?? []).reduce((a, b) => a + b, 0),
  newOverlays: (s) => (s.parts.mounts?.newOverlayDepths ?? []).length,
} satisfies Record<string, Reader>;

/** Each gauge a point holds, read from its sample: the state as of it. */
const GAUGES = {
  /** The watched table's size as of its latest reading, and its entries (NS_MNT_GET_INFO where it works). */
  mounts: (s) => s.parts.mounts?.mounts,
  entries: (s) => s.parts.mounts?.entries,
  mountMax: (s) => s.parts.mounts?.mountMax,
  layersMax: (s) => s.parts.mounts?.layersMax,
  /** Idmapped mounts that outlived --collector.mounts.idmap-linger. */
  idmapLingering: (s) => s.parts.mounts?.idmappedLingering,
  /** A container runtime's temporary mounts that outlived the linger time. */
  tempLingering: (s) => s.parts.mounts?.tempLingering,
  /** Mount namespaces no process is in, and their mounts (the namespace walk's leak scan). */
  unheld: (s) => s.parts.namespaces?.unheld,
  unheldMounts: (s) => s.parts.namespaces?.unheldMounts,
  /** Runtime directories watched: above 0, starts come from the runtimes' records. */
  runtimeDirs: (s) => s.parts.containers?.watched,
  /** Lock-wait estimates (seconds above baseline) of the namespace_sem and mount_lock probes. */
  ns: (s) => s.parts.probes?.namespace_sem?.estimate,
  ml: (s) => s.parts.probes?.mount_lock?.estimate,
} satisfies Record<string, Reader>;

export type PointKey = keyof typeof COUNTS;
export type GaugeKey = keyof typeof GAUGES;
export const POINT_KEYS = Object.keys(COUNTS) as PointKey[];
const GAUGE_KEYS = Object.keys(GAUGES) as GaugeKey[];

export type Point = { [K in PointKey | GaugeKey]?: number } & {
  /** Unix ms at which the sample completed, and the seconds it covers. */
  t: number;
  seconds: number;
  /** Container starts read from their bundles this sample, by image (kept for IMAGES_MS only). */
  images?: Map<string, number>;
  /** Their rootfs overlays' lower layers summed by image (starts × layers; kept for IMAGES_MS only). */
  startLayers?: Map<string, number>;
  /** Collectors that failed this sample. */
  failing: string[];
  /** Each count summed over every sample since start: what the exporter's counters read at this sample. */
  totals: Partial<Record<PointKey, number>>;
};

export const HISTORY_MS = 60 * 60_000;
/** Per-image starts are kept this long: what an alert description names, not an hour of every image. */
export const IMAGES_MS = 5 * 60_000;

export function pointOf(s: Sample): Point {
  const { containers } = s.parts;
  const p: Point = {
    t: s.at,
    seconds: s.seconds,
    images: containers && containers.images.size > 0 ? new Map(containers.images) : undefined,
    startLayers: containers && containers.startLayers.size > 0 ? new Map(containers.startLayers) : undefined,
    failing: Object.entries(s.collectors)
      .filter(([, c]) => !c.ok)
      .map(([name]) => name),
    totals: {},
  };
  for (const k of POINT_KEYS) p[k] = COUNTS[k](s);
  for (const k of GAUGE_KEYS) p[k] = GAUGES[k](s);
  return p;
}

export class History {
  readonly points: Point[] = [];
  /** The latest part of every collector, as /metrics shows it (a part absent this sample stands as last reported). */
  latest: Partial<Sample['parts']> = {};
  latestSample: Sample | undefined;
  /** Samples added since start. */
  samples = 0;
  /** Container starts since start, by the runtime whose records told of them. */
  readonly startsByRuntime = new Map<string, number>();
  /** Where the latest sample's starts came from: the runtimes' records, or the kernel's new mount namespaces. */
  startSignal: 'runtime' | 'kernel' | undefined;

  constructor(private readonly keepMs = HISTORY_MS) {}

  private readonly totals: Partial<Record<PointKey, number>> = {};

  add(s: Sample): Point {
    const p = pointOf(s);
    for (const k of POINT_KEYS) {
      const v = p[k];
      if (v !== undefined) this.totals[k] = (this.totals[k] ?? 0) + v;
    }
    p.totals = { ...this.totals };
    this.points.push(p);
    while (this.points.length > 0 && s.at - (this.points[0] as Point).t > this.keepMs) this.points.shift();
    // The points that crossed IMAGES_MS since the last sample give up their images (older ones did before).
    let i = this.points.length - 1;
    while (i >= 0 && s.at - (this.points[i] as Point).t <= IMAGES_MS) i--;
    for (; i >= 0; i--) {
      const old = this.points[i] as Point;
      if (old.images === undefined && old.startLayers === undefined) break;
      delete old.images;
      delete old.startLayers;
    }
    for (const [runtime, n] of s.parts.containers?.starts ?? [])
      this.startsByRuntime.set(runtime, (this.startsByRuntime.get(runtime) ?? 0) + n);
    this.startSignal = startSignal(s);
    this.latest = { ...this.latest, ...s.parts };
    this.latestSample = s;
    this.samples++;
    return p;
  }

  get last(): Point | undefined {
    return this.points[this.points.length - 1];
  }

  /**
   * The points of a range selector over the last `windowMs`: those at or after its start (the
   * latest's time minus the window), as Prometheus 2's [window] holds the samples in it.
   */
  window(windowMs: number): Point[] {
    const last = this.last;
    if (!last) return [];
    const from = last.t - windowMs;
    let i = this.points.length;
    while (i > 0 && (this.points[i - 1] as Point).t >= from) i--;
    return this.points.slice(i);
  }

  /**
   * What a count added over a range ending at the latest point, as PromQL's increase() computes it
   * from a counter's samples at the same points (Prometheus 2's extrapolatedRate): the counts after
   * the first point in the window (the first's own happened before it), extrapolated to the
   * window's start by the gap where that is under 1.1 intervals, else by half an interval, and
   * never past where the counter would have been zero (the running totals are the counter's
   * values). Undefined with fewer than two points that have the count, as in PromQL.
   */
  increase(key: PointKey, windowMs: number): number | undefined {
    const last = this.last;
    if (!last) return undefined;
    let first: Point | undefined;
    let final: Point | undefined;
    let total = 0;
    let n = 0;
    for (const p of this.window(windowMs)) {
      const v = p[key];
      if (v === undefined) continue;
      if (first) total += v;
      else first = p;
      final = p;
      n++;
    }
    if (!first || !final || n < 2) return undefined;
    const sampled = (final.t - first.t) / 1000;
    if (sampled <= 0) return undefined;
    const average = sampled / (n - 1);
    let toStart = (first.t - (last.t - windowMs)) / 1000;
    const toEnd = (last.t - final.t) / 1000;
    const firstValue = first.totals[key] ?? 0;
    if (total > 0 && firstValue >= 0) toStart = Math.min(toStart, sampled * (firstValue / total));
    const threshold = average * 1.1;
    const extrapolated =
      sampled + (toStart < threshold ? toStart : average / 2) + (toEnd < threshold ? toEnd : average / 2);
    return (total * extrapolated) / sampled;
  }

  /** Per second over the window, as rate(): increase() over the window's seconds. */
  rate(key: PointKey, windowMs: number): number | undefined {
    const i = this.increase(key, windowMs);
    return i === undefined ? undefined : i / (windowMs / 1000);
  }

  /** The latest value of a gauge. */
  gauge(key: GaugeKey): number | undefined {
    for (let i = this.points.length - 1; i >= 0; i--) {
      const v = (this.points[i] as Point)[key];
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** How much a gauge moved over the window (last − first), or undefined without two readings. */
  delta(key: GaugeKey, windowMs: number): number | undefined {
    const w = this.window(windowMs).filter((p) => p[key] !== undefined);
    if (w.length < 2) return undefined;
    return ((w[w.length - 1] as Point)[key] as number) - ((w[0] as Point)[key] as number);
  }

  /** Container starts over the window by image, most first (ties by name); windows past IMAGES_MS see only its part. */
  imageStarts(windowMs: number): Array<[string, number]> {
    const sums = new Map<string, number>();
    for (const p of this.window(windowMs))
      for (const [image, n] of p.images ?? []) sums.set(image, (sums.get(image) ?? 0) + n);
    return [...sums].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Lower layers of the rootfs overlays started over the window by image (starts × layers), most first. */
  imageStartLayers(windowMs: number): Array<[string, number]> {
    const sums = new Map<string, number>();
    for (const p of this.window(windowMs))
      for (const [image, n] of p.startLayers ?? []) sums.set(image, (sums.get(image) ?? 0) + n);
    return [...sums].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * The mount work each image brought over the window, most first: its starts × layers where its
   * overlays were found, else its starts (an image whose overlays are not found still names itself
   * by what it started). TOP_IMAGE's PromQL ranks the same way.
   */
  imageWork(windowMs: number): Array<[string, number]> {
    const work = new Map(this.imageStarts(windowMs));
    for (const [image, layers] of this.imageStartLayers(windowMs)) if (layers > 0) work.set(image, layers);
    return [...work].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The image behind the most mount work over the window (imageWork), or undefined for none. `other` (the bounded labels' rest) names no one. */
  topImage(windowMs: number): string | undefined {
    return this.imageWork(windowMs).find(([image]) => image !== 'other')?.[0];
  }

  /** Seconds of history held. */
  span(): number {
    const first = this.points[0];
    const last = this.last;
    return first && last ? (last.t - first.t) / 1000 : 0;
  }
}
