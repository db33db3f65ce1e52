/** The recording and alerting rules, built from THRESHOLDS. */
import { RUNBOOK_BASE, THRESHOLDS as T } from './thresholds';
import { CPU_METRICS } from '../collectors/cpu';
import { MOUNTS_METRICS } from '../collectors/mounts';
import { PROBES_METRICS } from '../collectors/probes';
import { TRACEFS_METRICS } from '../collectors/tracefs';
import { EXPORTER_METRICS } from '../sampler';

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}

function alert(name: string, severity: 'critical' | 'warning' | 'info', expr: string, forDur: string, summary: string, description: string): Rule {
  return {
    alert: name,
    expr,
    for: forDur,
    labels: { severity },
    annotations: { summary, description, runbook_url: `${RUNBOOK_BASE}/${name}.md` },
  };
}

export function ruleGroups(): RuleGroup[] {
  const w = T.rateWindow;
  return [
    {
      // One group: rules in a group run in order, so each alert sees the recording rules of the same
      // evaluation (separate groups run concurrently and an alert could read the previous tick's).
      name: 'mountstorm',
      interval: '5s',
      rules: [
        { record: 'instance:mountstorm_mounts:sum', expr: `sum by (instance) (${MOUNTS_METRICS.mounts})` },
        { record: 'instance:mountstorm_mounts_added:rate30s', expr: `sum by (instance) (rate(${MOUNTS_METRICS.mountsAdded}[${w}]))` },
        { record: 'instance:mountstorm_mount_syscalls:rate30s', expr: `sum by (instance) (rate(${TRACEFS_METRICS.mountSyscalls}[${w}]))` },
        { record: 'instance:mountstorm_mount_lock_wait_seconds:rate30s', expr: `sum by (instance) (rate(${TRACEFS_METRICS.mountLockWaitSeconds}[${w}]))` },
        { record: 'instance:mountstorm_lock_wait_estimate_seconds:max', expr: `max by (instance, lock) (${PROBES_METRICS.lockWaitEstimateSeconds})` },
        { record: 'instance:mountstorm_mount_table_utilisation:ratio', expr: `instance:mountstorm_mounts:sum / on (instance) max by (instance) (${MOUNTS_METRICS.mountMax})` },
        alert(
          'MountStormImminent',
          'critical',
          // Where tracefs runs, its syscall rate and measured lock wait lead; elsewhere the table churn and the probe do.
          `(instance:mountstorm_mounts_added:rate30s > ${T.churnPerSecond} or instance:mountstorm_mount_syscalls:rate30s > ${T.syscallsPerSecond})\n` +
            `and on (instance)\n(\n  instance:mountstorm_lock_wait_estimate_seconds:max{lock="namespace_sem"} > ${T.leadingLockWaitSeconds}\n  or on (instance)\n  instance:mountstorm_mount_lock_wait_seconds:rate30s > ${T.leadingMeasuredLockWaitRatio}\n)`,
          T.leadingFor,
          'A mount storm is starting: heavy mount churn with rising lock wait.',
          `{{ $labels.instance }} is adding mounts or making mount syscalls at {{ $value | humanize }}/s while lock wait on the mount locks rises; pod health checks fail within ~30 s if this continues.`,
        ),
        alert(
          'MountStormLockWaitHigh',
          'critical',
          `instance:mountstorm_lock_wait_estimate_seconds:max{lock="namespace_sem"} > ${T.lockWaitCriticalSeconds}`,
          T.lockWaitCriticalFor,
          'Mount table readers are blocked on namespace_sem.',
          `Reading the mount table on {{ $labels.instance }} waits {{ $value | humanizeDuration }} above its quiet baseline; systemd, kubelet and health checks stall behind it.`,
        ),
        alert(
          'MountStormPathWalkStall',
          'warning',
          `instance:mountstorm_lock_wait_estimate_seconds:max{lock="mount_lock"} > ${T.pathWalkStallSeconds}`,
          T.pathWalkStallFor,
          'Path lookups are spinning on the mount_lock seqlock.',
          `Each path lookup across a mount point on {{ $labels.instance }} takes {{ $value | humanizeDuration }} more than its baseline.`,
        ),
        alert(
          'MountTableNearMax',
          'warning',
          `instance:mountstorm_mount_table_utilisation:ratio > ${T.tableNearMaxRatio}`,
          T.tableNearMaxFor,
          'The mount table is approaching fs.mount-max.',
          `{{ $labels.instance }} has used {{ $value | humanizePercentage }} of fs.mount-max; beyond it every mount fails with ENOSPC.`,
        ),
        alert(
          'MountTableRunawayGrowth',
          'warning',
          `delta(instance:mountstorm_mounts:sum[${T.runawayWindow}]) > ${T.runawayGrowthPerHour}`,
          T.runawayFor,
          'The mount table keeps growing: mounts are leaking.',
          `The mount table on {{ $labels.instance }} grew by {{ $value | humanize }} entries in the last hour and keeps growing.`,
        ),
        alert(
          'MountStormDeepLayersRiskyTopology',
          'info',
          `max by (instance) (${MOUNTS_METRICS.overlayLowerLayersMax}) > ${T.deepLayers}\n` +
            `and on (instance)\n(count by (instance) (${CPU_METRICS.cpuTopologyInfo}{sockets!="1"}) or count by (instance) (${CPU_METRICS.cpuTopologyInfo}{smt="on"}))`,
          T.deepLayersFor,
          'Deep-layer images run on a multi-socket or SMT host.',
          `{{ $labels.instance }} runs overlays with {{ $value }} lower layers on a host with more than one socket or SMT on, the hardware that fails first in a mount storm.`,
        ),
        alert(
          'MountStormExporterAbsent',
          'warning',
          `up{job="${T.job}"} == 0`,
          T.absentFor,
          'The mountstorm exporter is down.',
          `Prometheus cannot scrape mountstorm on {{ $labels.instance }}: mount storms on this node would go unseen.`,
        ),
        alert(
          'MountStormCollectorFailing',
          'warning',
          `${EXPORTER_METRICS.scrapeCollectorSuccess} == 0`,
          T.collectorFailingFor,
          'A mountstorm collector is failing.',
          `The {{ $labels.collector }} collector on {{ $labels.instance }} has failed for 5 minutes; its metrics are stale or missing.`,
        ),
        alert(
          'MountStormTraceEventsLost',
          'warning',
          `increase(${TRACEFS_METRICS.traceEventsLost}[5m]) > 0`,
          T.traceEventsLostFor,
          'tracefs dropped mount events: syscall counts are lower bounds.',
          `{{ $labels.instance }} lost {{ $value | humanize }} trace events in 5 minutes; raise the tracefs buffer size.`,
        ),
      ],
    },
  ];
}
