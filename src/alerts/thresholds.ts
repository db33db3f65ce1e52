/**
 * Every alert threshold and timing, with the measurement behind it, in one place: their defaults.
 * The one alert spec (spec.ts) reads them through an AlertsConfig (config.ts), so a user overrides
 * any of them in one YAML file for both the rendered rules and the exporter's own evaluator.
 *
 * Timing budget (kubelet's liveness probe fails a pod after ~30 s: period 10 s × failureThreshold 3):
 * through Prometheus, scrape every 5 s + rule evaluation every 5 s + `for` + Alertmanager
 * group_wait 2 s → onset to page ≤ 20 s; from the node itself (--alertmanager.url), signals over
 * 10 s of 1 s samples + `for` → a page within seconds, whatever the scrape interval.
 */
export const THRESHOLDS = {
  /**
   * Window of the storm's fast signals, in the node's own seconds. The rendered rules use
   * max(this, 4 × the scrape interval), so a window always holds four scrapes.
   */
  fastWindow: '10s',

  /**
   * The storm's signature: mount work per container start. Measured with a real containerd,
   * user-namespaced containers, 50-layer images: 2.1.4 (idmaps every layer) ~450 mount syscalls and
   * ~205 mount-table changes per start (8.2 syscalls per layer + 42 by runc); 2.1.5 (the common-parent
   * fix) ~54 syscalls whatever the layer count. The drill: per-layer-idmap 406 syscalls and 206
   * events per start at 50 layers, common-parent-idmap 12 and 8 (BENCHMARKS.md). Above this, the
   * runtime mounts per layer (from about 13 layers up).
   */
  stormSyscallsPerStart: 150,
  /**
   * …or new mounts made per start above this, counted from the mount syscalls that succeeded in
   * every mount namespace (a container's own lives milliseconds, too short for fanotify's marks).
   * Each mount made is attached and detached again: two table changes under mount_lock and
   * namespace_sem. Measured per start (BENCHMARKS.md): the per-layer drill 102, the per-CPU masks
   * 108 at 96 CPUs and 204 at 192, 100-bind containers 100 (their 101 syscalls under the 150 above,
   * their own namespaces gone before fanotify's marks), the common-parent drill 4; 50-bind
   * containers (50) left readers at 3-44 µs and ~1.6 ms of lock wait per start: no page. On a host
   * of more than ~60 CPUs every start with the per-CPU masks passes it.
   */
  stormMountsMadePerStart: 75,
  /** …or mount attach/detach events (fanotify) per start above this (per-layer: ~4 per layer). */
  stormEventsPerStart: 80,
  /**
   * …or seconds per start inside unshare(CLONE_NEWNS) above this: each start copying the whole
   * table into its new mount namespace with namespace_sem held for writing, readers waiting out
   * every copy. Measured here, 8 starts at a time (BENCHMARKS.md): copies of 500 / 2,000 / 5,000
   * mounts took 0.9 / 7.5 / 30 ms per start, the namespace_sem probe reading 0.03 / 14 / 33 ms above
   * baseline; the per-layer storm spent 39 ms per start in all its mount syscalls and the fixed
   * runtime 6 ms, neither blocking readers (0.05 ms). A bigger host copies the same table slower
   * (cross-socket cache lines), so a time reaches its threshold at a smaller table there.
   */
  stormCopySecondsPerStart: 0.005,
  /**
   * …and the copies together above this many seconds per second (of the time tracing was armed):
   * the copies hold namespace_sem for writing long enough, often enough, to keep readers waiting.
   * The time per start alone is wall-clock time, and on a busy node a copy of a small table takes
   * longer waiting for the lock and a CPU: a burst of plain podman starts (a table of ~100 mounts,
   * 1.5 starts/s on two busy vCPUs) once spent 6.5 ms per start inside unshare, 0.01 s/s. Measured
   * here, 8 starts at a time (bench/signature.ts, BENCHMARKS.md): copies of 5,000 mounts 0.43 s/s
   * (11.8 ms per start, 37 starts/s), of 2,000 0.15 s/s (2.7 ms), of 500 0.04 s/s (0.65 ms); about
   * 1 µs per mount copied, one at a time.
   */
  stormCopyLoad: 0.1,
  /** …at a start rate that can hurt: container starts per second. */
  stormStartsPerSecond: 0.5,

  /**
   * Which storm it is, for the page's words (not whether it pages). Per-layer idmapping: more
   * idmapped mounts per start than this (the per-layer drill makes 100 at 50 layers, 2 per layer and
   * round; a runtime that idmaps the layers' common parent makes 2 whatever the depth).
   */
  perLayerIdmapsPerStart: 10,
  /**
   * Masked paths: more masked paths per start than this (linux.maskedPaths; a runtime's own defaults
   * are 11 to 15, kubelet's per-CPU thermal_throttle masks add one per CPU: 96 at 96 CPUs). Debian's
   * runc 1.1.5 made 434 mount syscalls per start at 192 CPUs, 242 at 96: 2 per masked directory.
   */
  manyMaskedPathsPerStart: 32,
  /**
   * Namespace copies: more than this share of the time inside mount-family syscalls spent in
   * unshare(CLONE_NEWNS). The drill's copy modes spent 98-99 % there, every other mode 0 %.
   */
  namespaceCopyShare: 0.5,
  /**
   * Readers: more than this share of the readers' time reading the mount table and the mounts' own
   * work (the time inside mount syscalls less their lock wait) together is the readers'
   * (--collector.tracefs.readers). Each open of a mount table file reads the whole table,
   * namespace_sem held for reading chunk by chunk, and every mount (a writer) waits out the chunk
   * being read: above half, readers re-reading on every change (systemd, systemd issue 42375) hold
   * the lock longer than the storm's mounts work under it. The lock wait is left out as it is the
   * readers' hold seen from the mounts: with two readers of a 5,000-mount table beside a 100-bind
   * storm it was 0.76 of the mounts' 0.80 s/s, against 0.005 without them (BENCHMARKS.md).
   */
  readerTimeShare: 0.5,
  /**
   * What reading one mount of the table costs the kernel, for the readers' time (their opens × the
   * table's mounts × this). Measured here (bench/table-read.ts, BENCHMARKS.md), a whole read of
   * /proc/self/mountinfo: 0.54-0.60 µs a mount at 1,000-5,000 mounts, 0.92 at 20,000 (longer lines,
   * an overlay's many lowerdirs, cost more). Set a host's own figure from the same bench.
   */
  tableReadMicrosecondsPerMount: 0.6,

  /** Heavy mount load, signature or not (a warning at most): mount-family syscalls per second… */
  pressureSyscallsPerSecond: 500,
  /** …or mount attach/detach events per second… */
  pressureEventsPerSecond: 200,
  /** …or mounts appearing in the watched table per second (its readings). */
  pressureChurnPerSecond: 50,

  /** Lock wait rising: the namespace_sem probe estimate (seconds above its quiet baseline)… */
  leadingLockWaitSeconds: 0.002,
  /**
   * …or tasks inside mount syscalls spend more than this many seconds per second in lock
   * contention (tracefs, measured). Healthy churn stays near 0.001 (the common-parent drill at 50
   * starts/s: 0.001–0.002), a paced per-layer storm on two vCPUs 0.05–0.06; the fixed runtime's
   * 8 concurrent starts reached 0.28 s/s, the per-layer one 0.37: on small hosts lock wait alone does
   * not tell a storm, which is why the page needs the signature too.
   */
  leadingMeasuredLockWaitRatio: 0.02,
  /**
   * The storm page: held this long, two samples in a row on the node (the signature, the start rate
   * and lock wait over 10 s windows already rule out churn and blips). An independent storm of
   * 100-bind containers paged 3.8-3.9 s after its first start with 1 s, 3.8-5.6 s with 2 s
   * (bench/independent-page.ts, BENCHMARKS.md); through Prometheus either is the next evaluation.
   */
  stormFor: '1s',
  /**
   * …and kept firing this long after its condition last held (Prometheus's keep_firing_for), so a
   * dip of one clause mid-storm does not resolve the page: on two vCPUs a paced per-layer storm's
   * measured lock wait hovers at 0.05–0.06 s/s and resolved a page once while the storm went on.
   */
  stormKeepFiringFor: '10s',
  pressureFor: '15s',

  /** Readers actually blocked: namespace_sem lock wait (probe, seconds) critical whatever the cause. */
  lockWaitCriticalSeconds: 0.05,
  lockWaitCriticalFor: '3s',

  /** Path lookups spinning on the mount_lock seqlock: per-stat() excess over baseline. */
  pathWalkStallSeconds: 0.001,
  pathWalkStallFor: '15s',

  /** Mount table above this fraction of fs.mount-max (mounts fail with ENOSPC at 100 %). */
  tableNearMaxRatio: 0.8,
  tableNearMaxFor: '5m',

  /** Leaked mounts: the table keeps growing by more than this per hour… */
  runawayGrowthPerHour: 2000,
  /** …over this window. */
  runawayWindow: '1h',
  runawayFor: '30m',

  /**
   * Leaked mount namespaces: more than this many mount namespaces no process is in (a runtime's
   * pinned namespaces that outlived their sandbox; containerd issue 5113 found 36,887 mounts in
   * them)… or more than this many mounts in them, for this long. A node pins a few on purpose
   * (`ip netns`-style bind mounts of nsfs files), never hundreds.
   */
  leakedNamespaces: 20,
  leakedNamespaceMounts: 1000,
  leakedNamespacesFor: '30m',

  /**
   * Leaked temporary idmapped mounts: more than this many idmapped mounts in the watched table for
   * longer than --collector.mounts.idmap-linger (a runtime's live for milliseconds; containerd 2.1.5
   * with 130-layer images left 3–8 `ovl-idmapped` mounts per 20 starts behind), for this long.
   */
  leakedIdmappedMounts: 0,
  leakedIdmappedMountsFor: '10m',

  /**
   * Leaked runtime temporary mounts: more than this many mounts at a runtime's temporary mount
   * points (containerd's `tmpmounts/containerd-mount*`, `ovl-idmapped*`) for longer than
   * --collector.mounts.idmap-linger, for this long. Idmapped ones among them count in both.
   */
  leakedTempMounts: 0,
  leakedTempMountsFor: '10m',

  /** Deep images: overlays with more lower layers than this (common advice: under 10)… */
  deepLayers: 10,
  /** …on a host with more than one socket or with SMT on. */
  deepLayersFor: '15m',

  /** Exporter and collector health. */
  absentFor: '2m',
  /** How long a target that vanished from discovery still counts as absent. */
  absentWindow: '1h',
  collectorFailingFor: '5m',
  /** Lost trace events counted over this window; any at all is a warning. */
  traceEventsLostWindow: '5m',
  traceEventsLostFor: '5m',
} as const;

export type Thresholds = {
  -readonly [K in keyof typeof THRESHOLDS]: (typeof THRESHOLDS)[K] extends string ? string : number;
};
