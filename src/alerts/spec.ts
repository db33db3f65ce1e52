/**
 * The one alert spec: every condition, `for`, severity, summary, description and runbook, written
 * once over the signals (signals.ts). From it come alerts/mountstorm.rules.yaml (promql.ts), the
 * landing page's conditions and the exporter's own evaluator (evaluate.ts).
 */
import type { AlertsConfig } from './config';
import { selector } from './signals';
import type { Thresholds } from './thresholds';
import { EXPORTER_METRICS, TRACEFS_METRICS } from '../metric-names';

export type Severity = 'critical' | 'warning' | 'info';
export type ThresholdName = { [K in keyof Thresholds]: Thresholds[K] extends number ? K : never }[keyof Thresholds];
export type DurationName = { [K in keyof Thresholds]: Thresholds[K] extends string ? K : never }[keyof Thresholds];

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
export type DescriptionPart = string | { signal: string } | { topImage: true } | DescriptionCases;

/**
 * Words chosen by what the node's signals say: the first case whose condition holds, else
 * `otherwise` (Prometheus: `{{ if query … }}…{{ else if … }}…{{ else }}…{{ end }}` over the same
 * recording rules). So one page names the storm it sees.
 */
export interface DescriptionCases {
  /** Each case's id names it where the choice is exported (mountstorm_node_storm_cause). */
  cases: ReadonlyArray<{ id: string; when: Condition; text: readonly DescriptionPart[] }>;
  otherwiseId: string;
  otherwise: readonly DescriptionPart[];
}

/** Every signal a description reads, its cases' conditions and words included. */
export function descriptionSignals(parts: readonly DescriptionPart[]): string[] {
  return parts.flatMap((p) => {
    if (typeof p === 'string' || 'topImage' in p) return [];
    if ('signal' in p) return [p.signal];
    return [
      ...p.cases.flatMap((c) => [...signalsOf(c.when), ...descriptionSignals(c.text)]),
      ...descriptionSignals(p.otherwise),
    ];
  });
}

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

const PER_LAYER_IDMAP: Condition = { signal: 'idmapsPerStart', above: 'perLayerIdmapsPerStart' };
const MANY_MASKED_PATHS: Condition = { signal: 'maskedPathsPerStart', above: 'manyMaskedPathsPerStart' };
const MASKED_PATHS_TEXT: DescriptionPart[] = [
  'the OCI runtime masks ',
  { signal: 'maskedPathsPerStart' },
  ' paths per container start (',
  { signal: 'perCpuMaskedPathsPerStart' },
  ' of them one per CPU: the thermal_throttle masks kubelet and containerd add since 2025-2026), one mount each, so the bigger the host the more mounts. runc 1.5.0 / 1.4.3 / 1.3.6 share one tmpfs among them (still a mount per path); kubelet and containerd releases that add them can be held back or their masks filtered (CRI-O PR 9661); fewer concurrent starts spread the mounts out',
];
const PER_LAYER_TEXT: DescriptionPart[] = [
  'the runtime idmaps every image layer (',
  { signal: 'idmapsPerStart' },
  ' idmapped mounts per start, of ',
  { signal: 'layersPerNewOverlay' },
  "-layer images); containerd 2.1.5 / 2.0.7 / 2.2.0 idmap the layers' common parent instead, about 54 mount syscalls per start whatever the layer count",
];

const NAMESPACE_COPIES: Condition = { signal: 'copyShare', above: 'namespaceCopyShare' };
const NAMESPACE_COPIES_TEXT: DescriptionPart[] = [
  'each start copies the whole mount table into its new mount namespace with namespace_sem held for writing (',
  { signal: 'copySecondsPerStart' },
  ' per start inside unshare, ',
  { signal: 'copyShare' },
  ' of the time in mount syscalls; the watched table holds ',
  { signal: 'entries' },
  ' mounts), and every reader of the mount table waits out each copy. The copy grows with the table: unmount what the host no longer needs (MountTableRunawayGrowth and MountStormNamespacesLeaked find leaks), spread the starts out; Linux 7.0 lets a runtime make a namespace from one tree (OPEN_TREE_NAMESPACE) instead of a copy of the whole table',
];

/** Readers hold the mount table longer than the mounts work: their reading above half of it and the mounts' own work together. */
const READERS_DOMINATE: Condition = { signal: 'readerShare', above: 'readerTimeShare' };
const READERS_TEXT: DescriptionPart[] = [
  'readers hold the mount table longer than the mounts work on it: they opened it ',
  { signal: 'tableOpenRate' },
  ' times a second, each open a read of all ',
  { signal: 'entries' },
  ' mounts with namespace_sem held for reading (about ',
  { signal: 'readSecondsRate' },
  ' of reading a second, ',
  { signal: 'readerShare' },
  ` of it and the mounts' own work together, lock wait aside), and every mount waits out the reads. systemd re-reads the whole table on every change (systemd issue 42375); systemd PR 42528 follows fanotify mount events instead (kernel 6.15+, libmount 2.42+). ${TRACEFS_METRICS.mountTableOpensByProcess} names the readers; a smaller table makes each read shorter, fewer concurrent starts make fewer changes to re-read`,
];

/**
 * The storm the page names: its cause, its count per start, and the fixes known for it. Readers
 * first: where their reading outweighs the mounts' own work, the storm is theirs whatever the starts
 * mount. Then namespace copies: where they take most of the time in mount syscalls, they are the
 * storm whatever else the starts mount.
 */
export const STORM_CAUSE: DescriptionCases = {
  cases: [
    { id: 'readers', when: READERS_DOMINATE, text: READERS_TEXT },
    { id: 'namespace_copies', when: NAMESPACE_COPIES, text: NAMESPACE_COPIES_TEXT },
    {
      id: 'per_layer_idmap_and_masked_paths',
      when: { all: [PER_LAYER_IDMAP, MANY_MASKED_PATHS] },
      text: [...PER_LAYER_TEXT, '; and ', ...MASKED_PATHS_TEXT],
    },
    { id: 'per_layer_idmap', when: PER_LAYER_IDMAP, text: PER_LAYER_TEXT },
    { id: 'masked_paths', when: MANY_MASKED_PATHS, text: MASKED_PATHS_TEXT },
  ],
  otherwiseId: 'other',
  otherwise: [
    'neither per-layer idmapping (',
    { signal: 'idmapsPerStart' },
    ' idmapped mounts per start) nor masked paths (',
    { signal: 'maskedPathsPerStart' },
    ' per start) nor namespace copies (',
    { signal: 'copySecondsPerStart' },
    ` per start) explain it: ${TRACEFS_METRICS.mountSyscallsByActor} names the step that mounts; fewer concurrent starts spread the mounts out`,
  ],
};

/** Where the starts were counted: the runtimes' records, or the kernel's new mount namespaces. */
export const START_SIGNAL: DescriptionCases = {
  cases: [
    {
      id: 'runtime',
      when: { signal: 'runtimeDirs', above: 0 },
      text: [" (counted in the container runtimes' own records)"],
    },
  ],
  otherwiseId: 'kernel',
  otherwise: [
    ' (counted as new mount namespaces: no container runtime directory is watched here, so any process that unshares its mounts counts too)',
  ],
};

/**
 * The readers, where they are counted (--collector.tracefs.readers) and not the cause named: every
 * open of a mount table file is a read of the whole table under namespace_sem, and systemd re-reads
 * it on every change, so a mount storm brings a reader storm on the same lock.
 */
export const READERS: DescriptionCases = {
  cases: [
    // Named as the cause already: nothing more to say of them.
    { id: 'named', when: READERS_DOMINATE, text: [] },
    {
      id: 'counted',
      when: { signal: 'tableOpenRate', present: true },
      text: [
        ' Readers opened the mount table ',
        { signal: 'tableOpenRate' },
        ' times a second, each open a read of all ',
        { signal: 'entries' },
        ` mounts under namespace_sem that the mounts above wait out (systemd re-reads it on every change, systemd issue 42375; ${TRACEFS_METRICS.mountTableOpensByProcess} names the readers).`,
      ],
    },
  ],
  otherwiseId: 'not_counted',
  otherwise: [],
};

/** Lock wait rising: the probe's estimate, or lock wait measured inside mount syscalls. */
const lockWaitRising: Condition = {
  any: [
    { signal: 'nsEstimate', above: 'leadingLockWaitSeconds' },
    { signal: 'lockWaitRate', above: 'leadingMeasuredLockWaitRatio' },
  ],
};

/**
 * The storm's signature: per-start mount work far above a common-parent runtime's, in mount
 * syscalls, new mounts made, mounts attached and detached, or time copying the table into new
 * namespaces (long copies that together take a share of the node's time: a copy's time per start
 * is wall-clock, and a busy CPU stretches the copies of a small table too).
 */
const signature: Condition = {
  any: [
    { signal: 'syscallsPerStart', above: 'stormSyscallsPerStart' },
    { signal: 'madePerStart', above: 'stormMountsMadePerStart' },
    { signal: 'eventsPerStart', above: 'stormEventsPerStart' },
    {
      all: [
        { signal: 'copySecondsPerStart', above: 'stormCopySecondsPerStart' },
        { signal: 'copyLoad', above: 'stormCopyLoad' },
      ],
    },
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
      'A mount storm is under way: container starts make more mounts than the mount locks can take, and the locks are contended.',
    description: [
      '{instance} makes ',
      { signal: 'syscallsPerStart' },
      ' mount syscalls (',
      { signal: 'madePerStart' },
      ' new mounts, each attached and detached again; ',
      { signal: 'eventsPerStart' },
      ' attach and detach events seen) per container start, at ',
      { signal: 'startRate' },
      ' starts/s',
      START_SIGNAL,
      ', most of them ',
      { topImage: true },
      ': ',
      STORM_CAUSE,
      '. Lock wait: ',
      { signal: 'lockWaitRate' },
      ' per second inside mount syscalls, mount table reads ',
      { signal: 'nsEstimate' },
      ' slower than baseline.',
      READERS,
      ' Pod health checks fail within ~30 s if this continues.',
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
      ' longer than its quiet baseline (readers open it ',
      { signal: 'tableOpenRate' },
      ' times a second, each reading all ',
      { signal: 'entries' },
      ' mounts); systemd, kubelet and health checks stall behind it, whatever the cause (',
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
    promql: (cfg) => `${EXPORTER_METRICS.sampleCollectorSuccess}${selector(cfg)} == 0`,
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
