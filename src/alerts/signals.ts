/**
 * Every signal an alert reads, in both of its forms: the PromQL of its recording rule, and its value
 * over the node's own samples (src/sample/history.ts), over the same window. The alert spec
 * (spec.ts) names them by id; thresholds come from an AlertsConfig.
 */
import { formatDuration, parseDuration } from '../flags';
import type { GaugeKey, History, PointKey } from '../sample/history';
import type { AlertsConfig } from './config';
import {
  CONTAINERS_METRICS,
  CPU_METRICS,
  EVALUATOR_METRICS,
  MOUNTS_METRICS,
  NAMESPACES_METRICS,
  PROBES_METRICS,
  TRACEFS_METRICS,
} from '../metric-names';

export type ValueFormat = 'humanize' | 'humanizeDuration' | 'humanizePercentage' | 'integer';

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

/**
 * A counter's per-second rate over the fast window, summed per instance; `base` is the rule name's
 * level:metric, `extra` a label matcher, `format` how its value is written (a count by default).
 */
function rate(
  id: string,
  base: string,
  metric: string,
  key: PointKey,
  help: string,
  { extra = '', format = 'humanize' }: { extra?: string; format?: ValueFormat } = {},
): Signal {
  return {
    id,
    record: (cfg) => `${base}:rate${fastWindow(cfg)}`,
    promql: (cfg) => `sum by (instance) (rate(${metric}${selector(cfg, extra)}[${fastWindow(cfg)}]))`,
    node: (h, cfg) => h.rate(key, nodeWindowMs(cfg)),
    format,
    help,
  };
}

/** One count's increase over the fast window per another's, where the other is above 0 (rate ÷ rate, as the rules divide). */
function increaseRatio(h: History, cfg: AlertsConfig, [num, den]: [PointKey, PointKey]): number | undefined {
  const n = h.increase(num, nodeWindowMs(cfg));
  const d = h.increase(den, nodeWindowMs(cfg));
  return n !== undefined && d !== undefined && d > 0 ? n / d : undefined;
}

/** One fast-window rate per another (per container start, per new overlay), where the other is above 0. */
function ratio(
  id: string,
  base: string,
  num: Signal,
  den: Signal,
  keys: [PointKey, PointKey],
  help: string,
  format: ValueFormat = 'integer',
): Signal {
  return {
    id,
    record: (cfg) => `${base}:ratio${fastWindow(cfg)}`,
    promql: (cfg) => `${num.record(cfg)} / (${den.record(cfg)} > 0)`,
    node: (h, cfg) => increaseRatio(h, cfg, keys),
    format,
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
  { extra: 'syscall="mount_setattr"' },
);
const madeRate = rate(
  'madeRate',
  'instance:mountstorm_mounts_created',
  TRACEFS_METRICS.mountsCreated,
  'mountsMade',
  'new mounts made per second by mount syscalls, in every mount namespace, short-lived ones included (tracefs; 0 while on-demand tracing is disarmed)',
);
/**
 * Lock wait per second of the time tracing was armed: on-demand tracing arms a second or two into
 * a storm, and seconds per wall-clock second over the window would count those seconds as calm.
 */
const lockWaitRate: Signal = {
  id: 'lockWaitRate',
  record: (cfg) => `instance:mountstorm_mount_lock_wait_seconds:rate${fastWindow(cfg)}`,
  promql: (cfg) =>
    `sum by (instance) (rate(${TRACEFS_METRICS.mountLockWaitSeconds}${selector(cfg)}[${fastWindow(cfg)}]))\n/\n(sum by (instance) (rate(${TRACEFS_METRICS.traceArmedSeconds}${selector(cfg)}[${fastWindow(cfg)}])) > 0)`,
  node: (h, cfg) => increaseRatio(h, cfg, ['lockWait', 'tracedSeconds']),
  format: 'humanizeDuration',
  help: 'seconds per second that tasks in mount syscalls wait on contended locks, over the time tracing was armed (tracefs)',
};
const mountSecondsRate = rate(
  'mountSecondsRate',
  'instance:mountstorm_mount_syscall_seconds',
  `${TRACEFS_METRICS.mountSyscallDurationSeconds}_sum`,
  'mountSeconds',
  'seconds per second spent inside mount-family syscalls, lock wait included: the mount work (tracefs)',
  { format: 'humanizeDuration' },
);
const copySecondsRate = rate(
  'copySecondsRate',
  'instance:mountstorm_mount_namespace_copy_seconds',
  `${TRACEFS_METRICS.mountSyscallDurationSeconds}_sum`,
  'copySeconds',
  'seconds per second inside unshare(CLONE_NEWNS): new mount namespaces copying the table under namespace_sem (tracefs; clone and clone3 are not timed)',
  { extra: 'syscall="unshare"', format: 'humanizeDuration' },
);
/**
 * Seconds inside unshare(CLONE_NEWNS) per second of the time tracing was armed (as lockWaitRate):
 * how much of the node's time namespace copies took, namespace_sem held for writing through each.
 */
const copyLoad: Signal = {
  id: 'copyLoad',
  record: (cfg) => `instance:mountstorm_mount_namespace_copy_seconds_per_armed_second:ratio${fastWindow(cfg)}`,
  promql: (cfg) =>
    `sum by (instance) (rate(${TRACEFS_METRICS.mountSyscallDurationSeconds}_sum${selector(cfg, 'syscall="unshare"')}[${fastWindow(cfg)}]))\n/\n(sum by (instance) (rate(${TRACEFS_METRICS.traceArmedSeconds}${selector(cfg)}[${fastWindow(cfg)}])) > 0)`,
  node: (h, cfg) => increaseRatio(h, cfg, ['copySeconds', 'tracedSeconds']),
  format: 'humanizeDuration',
  help: 'seconds per second inside unshare(CLONE_NEWNS), over the time tracing was armed: how much of the time namespace copies held namespace_sem for writing, or waited to (tracefs)',
};
const tableOpenRate = rate(
  'tableOpenRate',
  'instance:mountstorm_mount_table_opens',
  TRACEFS_METRICS.mountTableOpensByProcess,
  'tableOpens',
  'opens of a mount table file per second by its readers, each reading every mount under namespace_sem (tracefs with --collector.tracefs.readers)',
);
const entries = gauge(
  'entries',
  'instance:mountstorm_mount_table_entries',
  MOUNTS_METRICS.mountTableEntries,
  'entries',
  'humanize',
  'mounts in the watched table',
);
/**
 * The readers' time reading the mount table, seconds per second, estimated: their opens × the
 * watched table's mounts × what reading one mount costs (each open of a mount table file reads it
 * all, namespace_sem held for reading).
 */
const readSecondsRate: Signal = {
  id: 'readSecondsRate',
  record: (cfg) => `instance:mountstorm_mount_table_read_seconds:rate${fastWindow(cfg)}`,
  promql: (cfg) =>
    `${tableOpenRate.record(cfg)} * on (instance) ${entries.record(cfg)} * ${cfg.thresholds.tableReadMicrosecondsPerMount} / 1000000`,
  node: (h, cfg) => {
    const opens = tableOpenRate.node(h, cfg);
    const mounts = entries.node(h, cfg);
    return opens !== undefined && mounts !== undefined
      ? (opens * mounts * cfg.thresholds.tableReadMicrosecondsPerMount) / 1e6
      : undefined;
  },
  format: 'humanizeDuration',
  reads: ['tableOpenRate', 'entries'],
  help: "the readers' time reading the mount table, seconds per second, estimated: their opens × the watched table's mounts × tableReadMicrosecondsPerMount (tracefs with --collector.tracefs.readers)",
};
/**
 * The mounts' own work: seconds per second inside mount-family syscalls less the lock wait in them.
 * What they wait for is other holders' time (the readers' among it), not their own.
 */
const mountWorkRate: Signal = {
  id: 'mountWorkRate',
  record: (cfg) => `instance:mountstorm_mount_syscall_work_seconds:rate${fastWindow(cfg)}`,
  promql: (cfg) =>
    `clamp_min(${mountSecondsRate.record(cfg)} - on (instance) sum by (instance) (rate(${TRACEFS_METRICS.mountLockWaitSeconds}${selector(cfg)}[${fastWindow(cfg)}])), 0)`,
  node: (h, cfg) => {
    const inside = h.rate('mountSeconds', nodeWindowMs(cfg));
    const waiting = h.rate('lockWait', nodeWindowMs(cfg));
    return inside !== undefined && waiting !== undefined ? Math.max(0, inside - waiting) : undefined;
  },
  format: 'humanizeDuration',
  reads: ['mountSecondsRate'],
  help: "seconds per second inside mount-family syscalls less the lock wait in them: the mounts' own work (tracefs)",
};
/** The readers' share of their reading and the mounts' own work together. */
const readerShare: Signal = {
  id: 'readerShare',
  record: (cfg) => `instance:mountstorm_mount_table_reader_share:ratio${fastWindow(cfg)}`,
  promql: (cfg) =>
    `${readSecondsRate.record(cfg)} / ((${readSecondsRate.record(cfg)} + on (instance) ${mountWorkRate.record(cfg)}) > 0)`,
  node: (h, cfg) => {
    const read = readSecondsRate.node(h, cfg);
    const work = mountWorkRate.node(h, cfg);
    return read !== undefined && work !== undefined && read + work > 0 ? read / (read + work) : undefined;
  },
  format: 'humanizePercentage',
  reads: ['readSecondsRate', 'mountWorkRate'],
  help: "the readers' share of their reading and the mounts' own work together: above 0.5 names the readers as the cause",
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
const runtimeStartRate = rate(
  'runtimeStartRate',
  'instance:mountstorm_container_runtime_starts',
  CONTAINERS_METRICS.containerStarts,
  'runtimeStarts',
  "container starts per second in the runtimes' own records (containerd's task directories, containers/storage)",
);
const nsStartRate = rate(
  'nsStartRate',
  'instance:mountstorm_mount_namespaces_created',
  NAMESPACES_METRICS.mountNamespacesCreated,
  'nsCreated',
  'new mount namespaces per second (the namespace walk, or the /proc scan where it sees every process): every container start makes one',
);
const runtimeDirs = gauge(
  'runtimeDirs',
  'instance:mountstorm_container_runtime_dirs_watched',
  CONTAINERS_METRICS.containerTaskDirsWatched,
  'runtimeDirs',
  'integer',
  "runtime directories watched: above 0, container starts come from the runtimes' records",
);
/**
 * The start signal: the runtimes' records where a runtime directory is watched (exact), else the
 * kernel's new mount namespaces (every container start makes one; so does any other unshare).
 */
const startRate: Signal = {
  id: 'startRate',
  record: (cfg) => `instance:mountstorm_container_starts:rate${fastWindow(cfg)}`,
  promql: (cfg) =>
    `(${runtimeStartRate.record(cfg)} and on (instance) (${runtimeDirs.record(cfg)} > 0))\nor\n(${nsStartRate.record(cfg)} unless on (instance) (${runtimeDirs.record(cfg)} > 0))`,
  node: (h, cfg) => h.rate('starts', nodeWindowMs(cfg)),
  format: 'humanize',
  reads: [runtimeStartRate.id, nsStartRate.id, runtimeDirs.id],
  help: "container starts per second: the runtimes' records where a runtime directory is watched, else new mount namespaces",
};
/** The start signal over the time tracing was armed: what the per-start tracefs figures divide by. */
const tracedStartRate = rate(
  'tracedStartRate',
  'instance:mountstorm_container_starts_traced',
  EVALUATOR_METRICS.startsTraced,
  'tracedStarts',
  'container starts per second (the start signal) in the time tracing was armed: what the per-start tracefs figures divide by',
);
const bundleReadRate = rate(
  'bundleReadRate',
  'instance:mountstorm_container_image_starts',
  CONTAINERS_METRICS.imageStarts,
  'bundlesRead',
  'container starts whose bundle was read (by image, summed), per second: what per-start bundle figures divide by',
);
const maskedPathRate = rate(
  'maskedPathRate',
  'instance:mountstorm_container_start_masked_paths',
  CONTAINERS_METRICS.maskedPaths,
  'maskedPaths',
  'masked paths (linux.maskedPaths) of the container starts read, per second: one mount each',
);
const perCpuMaskedPathRate = rate(
  'perCpuMaskedPathRate',
  'instance:mountstorm_container_start_per_cpu_masked_paths',
  CONTAINERS_METRICS.maskedPaths,
  'perCpuMaskedPaths',
  'masked paths with a cpu<N> component (one per CPU of the host) of the starts read, per second',
  { extra: 'scope="per_cpu"' },
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

/** Every signal, by id; recording rules are rendered in this order. */
const ALL_SIGNALS: Signal[] = [
  entries,
  churnRate,
  eventRate,
  syscallRate,
  madeRate,
  idmapRate,
  lockWaitRate,
  runtimeStartRate,
  nsStartRate,
  runtimeDirs,
  startRate,
  tracedStartRate,
  bundleReadRate,
  maskedPathRate,
  perCpuMaskedPathRate,
  newOverlays,
  newLayers,
  mountSecondsRate,
  copySecondsRate,
  copyLoad,
  tableOpenRate,
  readSecondsRate,
  mountWorkRate,
  readerShare,
  ratio(
    'copySecondsPerStart',
    'instance:mountstorm_mount_namespace_copy_seconds_per_start',
    copySecondsRate,
    tracedStartRate,
    ['copySeconds', 'tracedStarts'],
    "seconds per container start inside unshare(CLONE_NEWNS): each start's copy of the table (the signature of a copy storm)",
    'humanizeDuration',
  ),
  ratio(
    'copyShare',
    'instance:mountstorm_mount_namespace_copy_share',
    copySecondsRate,
    mountSecondsRate,
    ['copySeconds', 'mountSeconds'],
    'the share of the time inside mount-family syscalls spent copying namespaces: above 0.5 names namespace copies as the cause',
    'humanizePercentage',
  ),
  ratio(
    'syscallsPerStart',
    'instance:mountstorm_mount_syscalls_per_start',
    syscallRate,
    tracedStartRate,
    ['syscalls', 'tracedStarts'],
    'mount syscalls per container start: the storm signature (~450 per-layer, ~54 common-parent)',
  ),
  ratio(
    'madePerStart',
    'instance:mountstorm_mounts_created_per_start',
    madeRate,
    tracedStartRate,
    ['mountsMade', 'tracedStarts'],
    'new mounts made per container start, in every mount namespace: the storm signature in table changes (each mount made is attached and detached: ~102 per-layer, 192 and more at 192 masked CPUs, 4 common-parent)',
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
    tracedStartRate,
    ['idmaps', 'tracedStarts'],
    'idmapped mounts made per container start (one per layer and round per-layer, 2 common-parent)',
  ),
  ratio(
    'maskedPathsPerStart',
    'instance:mountstorm_container_start_masked_paths_per_start',
    maskedPathRate,
    bundleReadRate,
    ['maskedPaths', 'bundlesRead'],
    'masked paths per container start read: the mounts the OCI runtime makes to hide them',
  ),
  ratio(
    'perCpuMaskedPathsPerStart',
    'instance:mountstorm_container_start_per_cpu_masked_paths_per_start',
    perCpuMaskedPathRate,
    bundleReadRate,
    ['perCpuMaskedPaths', 'bundlesRead'],
    "per-CPU masked paths per container start read: grows with the host's CPUs",
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
