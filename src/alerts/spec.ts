/**
 * The one alert spec: every signal an alert reads, every condition, `for`, severity, summary,
 * description and runbook, written once. From it come alerts/mountstorm.rules.yaml (promql.ts), the
 * landing page's conditions and the exporter's own evaluator (evaluate.ts). A signal carries both
 * of its forms: the PromQL of its recording rule, and its value over the node's own samples
 * (src/state/history.ts), over the same window; thresholds come from an AlertsConfig.
 */
import { CONTAINERS_METRICS } from '../collectors/containers';
import { CPU_METRICS } from '../collectors/cpu';
import { MOUNTS_METRICS } from '../collectors/mounts';
import { NAMESPACES_METRICS } from '../collectors/namespaces';
import { PROBES_METRICS } from '../collectors/probes';
import { TRACEFS_METRICS } from '../collectors/tracefs';
import { formatDuration, parseDuration } from '../flags';
import { EXPORTER_METRICS } from '../sampler';
import type { GaugeKey, History, PointKey } from '../state/history';
import type { AlertsConfig } from './config';
import type { Thresholds } from './thresholds';

export type Severity = 'critical' | 'warning' | 'info';
export type ValueFormat = 'humanize' | 'humanizeDuration' | 'humanizePercentage' | 'integer';
export type ThresholdName = { [K in keyof Thresholds]: Thresholds[K] extends number ? K : never }[keyof Thresholds];
export type DurationName = { [K in keyof Thresholds]: Thresholds[K] extends string ? K : never }[keyof Thresholds];

/** One series per instance: a recording rule, and the same figure over the node's own samples. */
export interface Signal {
  id: string;
  /** Its recording rule's name. */
  record(cfg: AlertsConfig): string;
  /** The recording rule's expression; its result carries `instance` only. */
  promql(cfg: AlertsConfig): string;
  /** Its value over the node's samples; undefined where the node has no such data (as an absent series). */
  node(h: History, cfg: AlertsConfig): number | undefined;
  format: ValueFormat;
  /** The signals whose recording rules its own reads. */
  reads?: string[];
  /** What it is, for alerts/README.md. */
  help: string;
}

/**
 * A signal above a threshold (by name, or a number), a signal present at all, all / any of several
 * (PromQL `and on (instance)` / `or on (instance)`; a missing series is false), or, as the last
 * terms of an `all`, one that must not hold (`unless on (instance)`).
 */
export type Condition =
  | { signal: string; above: ThresholdName | number }
  | { signal: string; present: true }
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition };

/** Text, signal values formatted as the rule's template formats them, and the image behind the starts. */
export type DescriptionPart = string | { signal: string } | { topImage: true };

/**
 * The image behind the most mount work on the node over the fast window: each image by its starts
 * × layers (the lower layers of the rootfs overlays its starts brought) where the exporter found
 * them, else by its starts (History.imageWork, the node form). Its PromQL (a query for the rule's
 * template, each `%q` the instance). Image series are bounded by the containers collector; `other`
 * never names a culprit.
 */
export const TOP_IMAGE = {
  promql: (cfg: AlertsConfig): string => {
    const per = (metric: string) =>
      `sum by (image) (increase(${metric}{instance=%q,image!="other"}[${fastWindow(cfg)}]))`;
    return `topk(1, ((${per(CONTAINERS_METRICS.imageStartLayers)} > 0) or ${per(CONTAINERS_METRICS.imageStarts)}) > 0)`;
  },
  node: (h: History, cfg: AlertsConfig): string | undefined => h.topImage(nodeWindowMs(cfg)),
};

export interface AlertSpec {
  name: string;
  severity: Severity;
  for: DurationName;
  summary: string;
  /** `{instance}` in text is the node. */
  description: DescriptionPart[];
  /** How long it stays firing after its condition last held (Prometheus's keep_firing_for). */
  keepFiringFor?: DurationName;
  /** What Prometheus and the node both evaluate; absent for the alerts only Prometheus can see (`promql`). */
  condition?: Condition;
  /**
   * Evaluated by the exporter itself too, and pushed with --alertmanager.url. Its Prometheus rule
   * then stands aside while the node's own notifier reaches an Alertmanager (mountstorm_alertmanager_up),
   * so one storm is one alert whichever path saw it first, and resolves when the node says so.
   */
  node?: boolean;
  /** For alerts about the scrape itself: their PromQL, and the text of their description (Go template). */
  promql?: (cfg: AlertsConfig) => string;
  promqlDescription?: string;
}

const ms = (d: string): number => parseDuration(d) as number;

/** The rendered window of the fast signals: the spec's, at least four scrapes. */
export function fastWindow(cfg: AlertsConfig): string {
  return formatDuration(Math.max(ms(cfg.thresholds.fastWindow), 4 * cfg.scrapeIntervalMs));
}

/** The fast window over the node's own samples: the spec's, in seconds of its samples. */
function nodeWindowMs(cfg: AlertsConfig): number {
  return ms(cfg.thresholds.fastWindow);
}

export function selector(cfg: AlertsConfig, extra = ''): string {
  return `{${[cfg.selector, extra].filter(Boolean).join(',')}}`;
}

/** A counter's per-second rate over the fast window, summed per instance; `base` is the rule name's level:metric. */
function rate(id: string, base: string, metric: string, key: PointKey, help: string, extra = ''): Signal {
  return {
    id,
    record: (cfg) => `${base}:rate${fastWindow(cfg)}`,
    promql: (cfg) => `sum by (instance) (rate(${metric}${selector(cfg, extra)}[${fastWindow(cfg)}]))`,
    node: (h, cfg) => h.rate(key, nodeWindowMs(cfg)),
    format: 'humanize',
    help,
  };
}

/** One fast-window rate per another (per container start, per new overlay), where the other is above 0. */
function ratio(id: string, base: string, num: Signal, den: Signal, keys: [PointKey, PointKey], help: string): Signal {
  return {
    id,
    record: (cfg) => `${base}:ratio${fastWindow(cfg)}`,
    promql: (cfg) => `${num.record(cfg)} / (${den.record(cfg)} > 0)`,
    node: (h, cfg) => {
      const n = h.increase(keys[0], nodeWindowMs(cfg));
      const d = h.increase(keys[1], nodeWindowMs(cfg));
      return n !== undefined && d !== undefined && d > 0 ? n / d : undefined;
    },
    format: 'integer',
    reads: [num.id, den.id],
    help,
  };
}

/** A gauge's maximum per instance (over its label values), or its latest value on the node. */
function gauge(
  id: string,
  base: string,
  metric: string,
  key: GaugeKey,
  format: ValueFormat,
  help: string,
  extra = '',
): Signal {
  return {
    id,
    record: () => `${base}:max`,
    promql: (cfg) => `max by (instance) (${metric}${selector(cfg, extra)})`,
    node: (h) => h.gauge(key),
    format,
    help,
  };
}

const syscallRate = rate(
  'syscallRate',
  'instance:mountstorm_mount_syscalls',
  TRACEFS_METRICS.mountSyscalls,
  'syscalls',
  'mount-family syscalls per second (tracefs; absent without it, 0 while on-demand tracing is disarmed)',
);
const idmapRate = rate(
  'idmapRate',
  'instance:mountstorm_mount_setattr_syscalls',
  TRACEFS_METRICS.mountSyscalls,
  'idmaps',
  'mount_setattr calls per second: the idmapped mounts made (tracefs)',
  'syscall="mount_setattr"',
);
const lockWaitRate: Signal = {
  ...rate(
    'lockWaitRate',
    'instance:mountstorm_mount_lock_wait_seconds',
    TRACEFS_METRICS.mountLockWaitSeconds,
    'lockWait',
    'seconds per second that tasks in mount syscalls wait on contended locks (tracefs)',
  ),
  format: 'humanizeDuration',
};
const eventRate = rate(
  'eventRate',
  'instance:mountstorm_mount_events',
  NAMESPACES_METRICS.mountEvents,
  'events',
  'mounts attached and detached per second, in every namespace (fanotify, 6.15+)',
);
const churnRate = rate(
  'churnRate',
  'instance:mountstorm_mounts_added',
  MOUNTS_METRICS.mountsAdded,
  'added',
  "mounts appearing per second in the watched table's readings",
);
const startRate = rate(
  'startRate',
  'instance:mountstorm_container_starts',
  CONTAINERS_METRICS.containerStarts,
  'starts',
  "container starts per second (new bundles in the runtime's task directories)",
);
const newOverlays = rate(
  'newOverlayRate',
  'instance:mountstorm_overlay_new_mounts',
  `${MOUNTS_METRICS.overlayNewMountLowerLayers}_count`,
  'newOverlays',
  'overlay mounts appearing per second',
);
const newLayers = rate(
  'newLayerRate',
  'instance:mountstorm_overlay_new_mount_lower_layers',
  `${MOUNTS_METRICS.overlayNewMountLowerLayers}_sum`,
  'newLayers',
  'lower layers of the overlays appearing, per second',
);
const entries = gauge(
  'entries',
  'instance:mountstorm_mount_table_entries',
  MOUNTS_METRICS.mountTableEntries,
  'entries',
  'humanize',
  'mounts in the watched table',
);

/** Every signal, by id; recording rules are rendered in this order. */
const ALL_SIGNALS: Signal[] = [
  entries,
  churnRate,
  eventRate,
  syscallRate,
  idmapRate,
  lockWaitRate,
  startRate,
  newOverlays,
  newLayers,
  ratio(
    'syscallsPerStart',
    'instance:mountstorm_mount_syscalls_per_start',
    syscallRate,
    startRate,
    ['syscalls', 'starts'],
    'mount syscalls per container start: the storm signature (~450 per-layer, ~54 common-parent)',
  ),
  ratio(
    'eventsPerStart',
    'instance:mountstorm_mount_events_per_start',
    eventRate,
    startRate,
    ['events', 'starts'],
    'mounts attached and detached per container start: the signature without tracefs',
  ),
  ratio(
    'idmapsPerStart',
    'instance:mountstorm_idmapped_mounts_per_start',
    idmapRate,
    startRate,
    ['idmaps', 'starts'],
    'idmapped mounts made per container start (one per layer and round per-layer, 2 common-parent)',
  ),
  ratio(
    'layersPerNewOverlay',
    'instance:mountstorm_overlay_lower_layers_per_new_overlay',
    newLayers,
    newOverlays,
    ['newLayers', 'newOverlays'],
    'lower layers per overlay appearing: the image depth behind the starts',
  ),
  gauge(
    'nsEstimate',
    'instance:mountstorm_namespace_sem_wait_estimate_seconds',
    PROBES_METRICS.lockWaitEstimateSeconds,
    'ns',
    'humanizeDuration',
    'how much longer reading the mount table takes than its quiet baseline (namespace_sem probe)',
    'lock="namespace_sem"',
  ),
  gauge(
    'mlEstimate',
    'instance:mountstorm_mount_lock_wait_estimate_seconds',
    PROBES_METRICS.lockWaitEstimateSeconds,
    'ml',
    'humanizeDuration',
    'how much longer a path lookup across a mount takes than its baseline (mount_lock probe)',
    'lock="mount_lock"',
  ),
  gauge(
    'deepest',
    'instance:mountstorm_overlay_lower_layers',
    MOUNTS_METRICS.overlayLowerLayersMax,
    'layersMax',
    'integer',
    'lower layers of the deepest overlay mounted',
  ),
  gauge(
    'idmapLingering',
    'instance:mountstorm_idmapped_mounts_lingering',
    MOUNTS_METRICS.idmappedMountsLingering,
    'idmapLingering',
    'integer',
    'idmapped mounts older than --collector.mounts.idmap-linger: temporary ones a runtime left behind',
  ),
  gauge(
    'tempLingering',
    'instance:mountstorm_runtime_temp_mounts_lingering',
    MOUNTS_METRICS.runtimeTempMountsLingering,
    'tempLingering',
    'integer',
    "a container runtime's temporary mounts (by mount point) older than --collector.mounts.idmap-linger: ones it left behind",
  ),
  gauge(
    'unheldNamespaces',
    'instance:mountstorm_mount_namespaces_unheld',
    NAMESPACES_METRICS.unheldNamespaces,
    'unheld',
    'integer',
    'mount namespaces no process is in (the namespace walk against /proc/*/ns/mnt)',
  ),
  gauge(
    'unheldMounts',
    'instance:mountstorm_mount_namespaces_unheld_mounts',
    NAMESPACES_METRICS.unheldNamespaceMounts,
    'unheldMounts',
    'integer',
    'mounts in the mount namespaces no process is in',
  ),
  {
    id: 'utilisation',
    record: () => 'instance:mountstorm_mount_table_utilisation:ratio',
    promql: (cfg) =>
      `${entries.record(cfg)} / on (instance) max by (instance) (${MOUNTS_METRICS.mountMax}${selector(cfg)})`,
    node: (h) => {
      const e = h.gauge('entries');
      const m = h.gauge('mountMax');
      return e !== undefined && m ? e / m : undefined;
    },
    format: 'humanizePercentage',
    reads: ['entries'],
    help: 'mount table size over fs.mount-max',
  },
  {
    id: 'growth',
    record: (cfg) => `instance:mountstorm_mount_table_entries:delta${cfg.thresholds.runawayWindow}`,
    promql: (cfg) => `delta(${entries.record(cfg)}[${cfg.thresholds.runawayWindow}])`,
    // Only over a full window, as delta() over an hour of series that began minutes ago would extrapolate.
    node: (h, cfg) =>
      h.span() >= ms(cfg.thresholds.runawayWindow) * 0.95
        ? h.delta('entries', ms(cfg.thresholds.runawayWindow))
        : undefined,
    format: 'humanize',
    reads: ['entries'],
    help: 'how much the mount table grew over the runaway window',
  },
  {
    id: 'riskyTopology',
    record: () => 'instance:mountstorm_risky_topology:present',
    promql: (cfg) =>
      `count by (instance) (${CPU_METRICS.cpuTopologyInfo}${selector(cfg, 'sockets!="1"')}) or count by (instance) (${CPU_METRICS.cpuTopologyInfo}${selector(cfg, 'smt="on"')})`,
    node: (h) => {
      const t = h.latest.cpu?.topology;
      return t !== undefined && (t.sockets > 1 || t.smt) ? 1 : undefined;
    },
    format: 'integer',
    help: 'present where the host has more than one socket or SMT on',
  },
  {
    id: 'lost',
    record: (cfg) => `instance:mountstorm_trace_events_lost:increase${cfg.thresholds.traceEventsLostWindow}`,
    promql: (cfg) =>
      `sum by (instance) (increase(${TRACEFS_METRICS.traceEventsLost}${selector(cfg)}[${cfg.thresholds.traceEventsLostWindow}]))`,
    node: (h, cfg) => h.increase('lost', ms(cfg.thresholds.traceEventsLostWindow)),
    format: 'humanize',
    help: 'trace events lost before they were read, over the lost-events window',
  },
];
export const SIGNALS: Readonly<Record<string, Signal>> = Object.freeze(
  Object.fromEntries(ALL_SIGNALS.map((s) => [s.id, s])),
);

export function signal(id: string): Signal {
  const s = SIGNALS[id];
  if (!s) throw new Error(`alert spec: no signal "${id}"`);
  return s;
}

/** Lock wait rising: the probe's estimate, or lock wait measured inside mount syscalls. */
const lockWaitRising: Condition = {
  any: [
    { signal: 'nsEstimate', above: 'leadingLockWaitSeconds' },
    { signal: 'lockWaitRate', above: 'leadingMeasuredLockWaitRatio' },
  ],
};

/** The per-layer signature: per-start mount work far above a common-parent runtime's. */
const signature: Condition = {
  any: [
    { signal: 'syscallsPerStart', above: 'stormSyscallsPerStart' },
    { signal: 'eventsPerStart', above: 'stormEventsPerStart' },
  ],
};

export const ALERTS: readonly AlertSpec[] = [
  {
    name: 'MountStormImminent',
    severity: 'critical',
    for: 'stormFor',
    keepFiringFor: 'stormKeepFiringFor',
    node: true,
    summary:
      'A mount storm is under way: the container runtime mounts every image layer, and the mount locks are contended.',
    description: [
      '{instance} makes ',
      { signal: 'syscallsPerStart' },
      ' mount syscalls (',
      { signal: 'eventsPerStart' },
      ' mounts attached and detached, ',
      { signal: 'idmapsPerStart' },
      ' idmapped) per container start, at ',
      { signal: 'startRate' },
      ' starts/s of ',
      { signal: 'layersPerNewOverlay' },
      '-layer images, most of them ',
      { topImage: true },
      ": the runtime idmaps every layer (one that idmaps the layers' common parent, containerd 2.1.5 / 2.2, makes about 54 whatever the layer count). Lock wait: ",
      { signal: 'lockWaitRate' },
      ' per second inside mount syscalls, mount table reads ',
      { signal: 'nsEstimate' },
      ' slower than baseline. Pod health checks fail within ~30 s if this continues.',
    ],
    condition: { all: [signature, { signal: 'startRate', above: 'stormStartsPerSecond' }, lockWaitRising] },
  },
  {
    name: 'MountStormLockWaitHigh',
    severity: 'critical',
    for: 'lockWaitCriticalFor',
    node: true,
    summary: 'Mount table readers are blocked on namespace_sem.',
    description: [
      'Reading the mount table on {instance} takes ',
      { signal: 'nsEstimate' },
      ' longer than its quiet baseline; systemd, kubelet and health checks stall behind it, whatever the cause (',
      { signal: 'syscallsPerStart' },
      ' mount syscalls per container start).',
    ],
    condition: { signal: 'nsEstimate', above: 'lockWaitCriticalSeconds' },
  },
  {
    name: 'MountPressureHigh',
    severity: 'warning',
    for: 'pressureFor',
    summary: 'Heavy mount load with rising lock wait, without the per-layer storm signature.',
    description: [
      '{instance} makes ',
      { signal: 'syscallRate' },
      ' mount syscalls/s (',
      { signal: 'eventRate' },
      ' mounts attached and detached per second) with lock wait rising (',
      { signal: 'lockWaitRate' },
      ' per second, mount table reads ',
      { signal: 'nsEstimate' },
      ' slower), at ',
      { signal: 'syscallsPerStart' },
      ' mount syscalls per container start: busy container churn, not a per-layer storm. Stagger starts if it grows.',
    ],
    condition: {
      all: [
        {
          any: [
            { signal: 'syscallRate', above: 'pressureSyscallsPerSecond' },
            { signal: 'eventRate', above: 'pressureEventsPerSecond' },
            { signal: 'churnRate', above: 'pressureChurnPerSecond' },
          ],
        },
        lockWaitRising,
        { not: signature },
      ],
    },
  },
  {
    name: 'MountStormPathWalkStall',
    severity: 'warning',
    for: 'pathWalkStallFor',
    summary: 'Path lookups are spinning on the mount_lock seqlock.',
    description: [
      'Each path lookup across a mount point on {instance} takes ',
      { signal: 'mlEstimate' },
      ' more than its baseline.',
    ],
    condition: { signal: 'mlEstimate', above: 'pathWalkStallSeconds' },
  },
  {
    name: 'MountTableNearMax',
    severity: 'warning',
    for: 'tableNearMaxFor',
    summary: 'The mount table is approaching fs.mount-max.',
    description: [
      '{instance} has used ',
      { signal: 'utilisation' },
      ' of fs.mount-max; beyond it every mount fails with ENOSPC.',
    ],
    condition: { signal: 'utilisation', above: 'tableNearMaxRatio' },
  },
  {
    name: 'MountTableRunawayGrowth',
    severity: 'warning',
    for: 'runawayFor',
    summary: 'The mount table keeps growing: mounts are leaking.',
    description: [
      'The mount table on {instance} grew by ',
      { signal: 'growth' },
      ' entries over the last hour and keeps growing.',
    ],
    condition: { signal: 'growth', above: 'runawayGrowthPerHour' },
  },
  {
    name: 'MountStormIdmappedMountsLeaked',
    severity: 'warning',
    for: 'leakedIdmappedMountsFor',
    summary: 'Idmapped mounts outlive the container starts that made them: the runtime leaks its temporary mounts.',
    description: [
      '{instance} has ',
      { signal: 'idmapLingering' },
      " idmapped mounts in its mount table that have been there longer than a container start takes: a runtime's temporary per-layer or common-parent idmapped mounts that were never unmounted (umount2 EBUSY under load). Each stays on the mount locks' paths; they pile up with every start.",
    ],
    condition: { signal: 'idmapLingering', above: 'leakedIdmappedMounts' },
  },
  {
    name: 'MountStormRuntimeTempMountsLeaked',
    severity: 'warning',
    for: 'leakedTempMountsFor',
    summary: "A container runtime's temporary mounts outlive the container starts that made them.",
    description: [
      '{instance} has ',
      { signal: 'tempLingering' },
      " mounts at a container runtime's temporary mount points (containerd's tmpmounts/containerd-mount*, ovl-idmapped*) that have been there longer than a container start takes: mounts it made to read an image or idmap its layers and never unmounted. They pile up with every start.",
    ],
    condition: { signal: 'tempLingering', above: 'leakedTempMounts' },
  },
  {
    name: 'MountStormNamespacesLeaked',
    severity: 'warning',
    for: 'leakedNamespacesFor',
    summary: 'Mount namespaces no process is in are piling up, with their mounts: a runtime leaks them.',
    description: [
      '{instance} has ',
      { signal: 'unheldNamespaces' },
      ' mount namespaces that no process is in, holding ',
      { signal: 'unheldMounts' },
      ' mounts: each is kept by a bind mount of its nsfs file or an open descriptor, and every mount in it costs the mount locks as if it were in use.',
    ],
    condition: {
      any: [
        { signal: 'unheldNamespaces', above: 'leakedNamespaces' },
        { signal: 'unheldMounts', above: 'leakedNamespaceMounts' },
      ],
    },
  },
  {
    name: 'MountStormDeepLayersRiskyTopology',
    severity: 'info',
    for: 'deepLayersFor',
    summary: 'Deep-layer images run on a multi-socket or SMT host.',
    description: [
      '{instance} runs overlays with ',
      { signal: 'deepest' },
      ' lower layers on a host with more than one socket or SMT on, the hardware that fails first in a mount storm.',
    ],
    condition: {
      all: [
        { signal: 'deepest', above: 'deepLayers' },
        { signal: 'riskyTopology', present: true },
      ],
    },
  },
  {
    name: 'MountStormTraceEventsLost',
    severity: 'warning',
    for: 'traceEventsLostFor',
    summary: 'tracefs dropped mount events: syscall counts are lower bounds.',
    description: [
      '{instance} lost ',
      { signal: 'lost' },
      ' trace events over the last window; raise --collector.tracefs.buffer-size.',
    ],
    condition: { signal: 'lost', above: 0 },
  },
  {
    name: 'MountStormExporterAbsent',
    severity: 'warning',
    for: 'absentFor',
    summary: 'The mountstorm exporter is down.',
    description: [],
    // Down; gone from discovery within the last hour; or never there at all.
    promql: (cfg) => {
      const up = `up${selector(cfg)}`;
      return `${up} == 0\nor\n(max_over_time(${up}[${cfg.thresholds.absentWindow}]) unless on (instance) ${up})\nor\nabsent(${up})`;
    },
    promqlDescription:
      'Prometheus cannot scrape mountstorm on {{ with $labels.instance }}{{ . }}{{ else }}any node{{ end }}: mount storms there would go unseen.',
  },
  {
    name: 'MountStormCollectorFailing',
    severity: 'warning',
    for: 'collectorFailingFor',
    summary: 'A mountstorm collector is failing.',
    description: [],
    promql: (cfg) => `${EXPORTER_METRICS.scrapeCollectorSuccess}${selector(cfg)} == 0`,
    promqlDescription:
      'The {{ $labels.collector }} collector on {{ $labels.instance }} keeps failing; its metrics are stale or missing.',
  },
];

/** Every signal a condition reads, in order. */
export function signalsOf(c: Condition): string[] {
  if ('not' in c) return signalsOf(c.not);
  if ('all' in c) return c.all.flatMap(signalsOf);
  if ('any' in c) return c.any.flatMap(signalsOf);
  return [c.signal];
}

export function thresholdValue(cfg: AlertsConfig, above: ThresholdName | number): number {
  return typeof above === 'number' ? above : cfg.thresholds[above];
}

/** The node's evaluation of a condition (a missing value is false, as a missing series is in PromQL). */
export function holds(c: Condition, h: History, cfg: AlertsConfig): boolean {
  if ('not' in c) return !holds(c.not, h, cfg);
  if ('all' in c) return c.all.every((x) => holds(x, h, cfg));
  if ('any' in c) return c.any.some((x) => holds(x, h, cfg));
  const v = signal(c.signal).node(h, cfg);
  if (v === undefined || Number.isNaN(v)) return false;
  return 'present' in c ? true : v > thresholdValue(cfg, c.above);
}
