/**
 * Every alert threshold and timing, in one place. alerts/mountstorm.rules.yaml is rendered from this
 * file (`npm run render-alerts`); a test fails when the committed YAML is stale.
 *
 * Timing budget (kubelet's liveness probe fails a pod after ~30 s: period 10 s × failureThreshold 3):
 * scrape every 5 s + rule evaluation every 5 s + `for` + Alertmanager group_wait 2 s for critical
 * → onset to page ≤ 20 s for the critical alerts.
 */
export const THRESHOLDS = {
  /** Prometheus job label of the exporter's scrape config. */
  job: 'mountstorm',
  /** Window of the fast rates: 6 scrapes at 5 s, short enough to see a burst within seconds. */
  rateWindow: '30s',

  /** Leading indicator: mounts appearing faster than this (per second, table churn)… */
  churnPerSecond: 50,
  /** …or mount-family syscalls faster than this (per second, tracefs)… */
  syscallsPerSecond: 500,
  /** …while namespace_sem lock wait (probe estimate, seconds) is above this… */
  leadingLockWaitSeconds: 0.002,
  /**
   * …or tasks inside mount syscalls spend more than this many seconds per second in lock
   * contention (tracefs, measured): a storm has started. Normal churn stays near 0.001.
   */
  leadingMeasuredLockWaitRatio: 0.05,
  leadingFor: '5s',

  /** Sustained namespace_sem lock wait that precedes probe failures (mountinfo readers blocked). */
  lockWaitCriticalSeconds: 0.05,
  lockWaitCriticalFor: '5s',

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

  /** Deep images: overlays with more lower layers than this (common advice: under 10)… */
  deepLayers: 10,
  /** …on a host with more than one socket or with SMT on. */
  deepLayersFor: '15m',

  /** Exporter and collector health. */
  absentFor: '2m',
  collectorFailingFor: '5m',
  traceEventsLostFor: '5m',
} as const;

export const RUNBOOK_BASE = 'https://github.com/mountstorm/mountstorm/blob/main/alerts/runbooks';
