/**
 * The Grafana dashboards, as code (Grafana Foundation SDK builders). `npm run render-dashboards`
 * writes grafana/*.json; a test fails while the committed JSON is stale, and runs every panel query
 * against a real Prometheus that scraped the exporter during a storm.
 *
 * Conventions (kubernetes-mixin): fixed uid, a `datasource` template variable (no `__inputs`, so the
 * JSON imports through the UI and provisions from files as is), `instance` variables, a unit and a
 * description on every panel, runbook links, alert annotations. Queries use the raw metrics (not
 * the recording rules), so the dashboards work where the rules are not loaded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { DEFAULT_ALERTS_CONFIG, loadAlertsConfig, runbookUrl, type AlertsConfig } from '../alerts/config';
import { ConfigError } from '../errors';
import { flagValue, flagsHelp, parseArgs, type FlagSpec } from '../flags';
import { NAMESPACES_METRICS } from '../collectors/namespaces';
import { EVALUATOR_METRICS } from '../alerts/evaluate';
import { NOTIFY_METRICS } from '../notify/metrics';
import { BUILD_INFO } from '../exposition';
import { CONTAINERS_METRICS } from '../collectors/containers';
import { CPU_METRICS } from '../collectors/cpu';
import { HOST_METRICS } from '../collectors/host';
import { MOUNTS_METRICS } from '../collectors/mounts';
import { PROBES_METRICS } from '../collectors/probes';
import { TRACEFS_METRICS } from '../collectors/tracefs';
import { EXPORTER_METRICS } from '../sampler';

const DS = { type: 'prometheus', uid: '${datasource}' };

/** The settings a dashboard is rendered with: the exporter's selector and where the runbooks are. */
let cfg: AlertsConfig = DEFAULT_ALERTS_CONFIG;
const J = () => cfg.selector;

function q(
  expr: string,
  legend?: string,
  opts: { instant?: boolean; format?: 'heatmap' | 'table' } = {},
): prometheus.DataqueryBuilder {
  const b = new prometheus.DataqueryBuilder().expr(expr).datasource(DS);
  if (legend) b.legendFormat(legend);
  if (opts.instant) b.instant();
  else b.range();
  if (opts.format)
    b.format(opts.format === 'heatmap' ? prometheus.PromQueryFormat.Heatmap : prometheus.PromQueryFormat.Table);
  return b;
}

/** A panel link to an alert's runbook (panel links take builders; a data link is just these fields). */
function runbook(alert: string): { build(): { title: string; url: string; targetBlank: boolean } } {
  return { build: () => ({ title: `Runbook: ${alert}`, url: runbookUrl(cfg, alert), targetBlank: true }) };
}

function ts(
  title: string,
  unit: string,
  description: string,
  targets: prometheus.DataqueryBuilder[],
  w = 12,
  h = 8,
  alert?: string,
): timeseries.PanelBuilder {
  const p = new timeseries.PanelBuilder()
    .title(title)
    .unit(unit)
    .description(description)
    .datasource(DS)
    .gridPos({ x: 0, y: 0, w, h })
    .lineWidth(1)
    .fillOpacity(10);
  for (const t of targets) p.withTarget(t);
  if (alert) p.links([runbook(alert) as never]);
  return p;
}

function statPanel(
  title: string,
  unit: string,
  description: string,
  target: prometheus.DataqueryBuilder,
  w = 4,
  alert?: string,
): stat.PanelBuilder {
  const p = new stat.PanelBuilder()
    .title(title)
    .unit(unit)
    .description(description)
    .datasource(DS)
    .gridPos({ x: 0, y: 0, w, h: 4 })
    .withTarget(target);
  if (alert) p.links([runbook(alert) as never]);
  return p;
}

function heat(
  title: string,
  description: string,
  target: prometheus.DataqueryBuilder,
  alert?: string,
): heatmap.PanelBuilder {
  const p = new heatmap.PanelBuilder()
    .title(title)
    .unit('s')
    .description(description)
    .datasource(DS)
    .gridPos({ x: 0, y: 0, w: 12, h: 8 })
    .withTarget(target)
    .calculate(false)
    .yAxis(new heatmap.YAxisConfigBuilder().unit('s'));
  if (alert) p.links([runbook(alert) as never]);
  return p;
}

function datasourceVar(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus');
}

function instanceVar(multi: boolean): dashboard.QueryVariableBuilder {
  const v = new dashboard.QueryVariableBuilder('instance')
    .label('Node')
    .datasource(DS)
    .query(`label_values(${BUILD_INFO}{${J()}}, instance)`)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc);
  if (multi) v.multi(true).includeAll(true).allValue('.+');
  return v;
}

function alertAnnotations(sel: string): dashboard.AnnotationQueryBuilder {
  return new dashboard.AnnotationQueryBuilder()
    .name('Mount storm alerts')
    .datasource(DS)
    .enable(true)
    .iconColor('red')
    .expr(`ALERTS{alertstate="firing", alertname=~"MountStorm.*|MountTable.*", ${sel}}`)
    .titleFormat('{{alertname}}')
    .textFormat('{{instance}}: {{alertname}} ({{severity}})')
    .step('15s');
}

function links(): dashboard.DashboardLinkBuilder[] {
  return [
    new dashboard.DashboardLinkBuilder('Runbooks')
      .type(dashboard.DashboardLinkType.Link)
      .url(cfg.runbookUrl.slice(0, cfg.runbookUrl.indexOf('{alert}')))
      .targetBlank(true)
      .icon('doc'),
    new dashboard.DashboardLinkBuilder('Mount storm dashboards')
      .type(dashboard.DashboardLinkType.Dashboards)
      .tags(['mountstorm'])
      .asDropdown(true)
      .includeVars(true)
      .keepTime(true),
  ];
}

/** Lays panels out left to right, wrapping at 24 columns. */
function layout<P extends { build(): unknown }>(panels: Array<[P, number, number]>): P[] {
  let x = 0;
  let y = 0;
  let rowH = 0;
  return panels.map(([p, w, h]) => {
    if (x + w > 24) {
      x = 0;
      y += rowH;
      rowH = 0;
    }
    (p as unknown as { gridPos(g: object): void }).gridPos({ x, y, w, h });
    x += w;
    rowH = Math.max(rowH, h);
    return p;
  });
}

/** What both dashboards share: variables, annotations, links and tags; panels laid out in a grid. */
function build(
  d: { title: string; uid: string; description: string; refresh: string; from: string; multiNode: boolean },
  panels: Array<[{ build(): unknown }, number, number]>,
): dashboard.Dashboard {
  const b = new dashboard.DashboardBuilder(d.title)
    .uid(d.uid)
    .description(d.description)
    .tags(['mountstorm', 'mounts'])
    .refresh(d.refresh)
    .time({ from: d.from, to: 'now' })
    .withVariable(datasourceVar())
    .withVariable(instanceVar(d.multiNode))
    .annotation(alertAnnotations('instance=~"$instance"'))
    .links(links());
  for (const p of layout(panels)) b.withPanel(p as never);
  return b.build();
}

export function nodeDashboard(): dashboard.Dashboard {
  const I = `${J()}, instance=~"$instance"`;
  const R = '$__rate_interval';
  const panels: Array<[{ build(): unknown }, number, number]> = [
    [
      statPanel(
        'Mounts',
        'short',
        `Entries in the watched mount table (${MOUNTS_METRICS.mounts}).`,
        q(`sum(${MOUNTS_METRICS.mounts}{${I}})`, undefined, { instant: true }),
        4,
        'MountTableNearMax',
      ),
      4,
      4,
    ],
    [
      statPanel(
        'Table vs fs.mount-max',
        'percentunit',
        'Mount table size as a share of fs.mount-max; mounts fail with ENOSPC at 100 %.',
        q(`sum(${MOUNTS_METRICS.mounts}{${I}}) / max(${MOUNTS_METRICS.mountMax}{${I}})`, undefined, { instant: true }),
        4,
        'MountTableNearMax',
      ),
      4,
      4,
    ],
    [
      statPanel(
        'Mount syscalls/s',
        'ops',
        'Exact mount-family syscalls per second, from tracefs (no data without the tracefs collector).',
        q(`sum(rate(${TRACEFS_METRICS.mountSyscalls}{${I}}[${R}]))`, undefined, { instant: true }),
        4,
        'MountStormImminent',
      ),
      4,
      4,
    ],
    [
      statPanel(
        'Measured lock wait',
        's',
        'Seconds per second that tasks inside mount syscalls spent in lock contention (tracefs).',
        q(`sum(rate(${TRACEFS_METRICS.mountLockWaitSeconds}{${I}}[${R}]))`, undefined, { instant: true }),
        4,
        'MountStormImminent',
      ),
      4,
      4,
    ],
    [
      statPanel(
        'namespace_sem wait',
        's',
        'How far the namespace_sem probe sits above its learned quiet baseline.',
        q(`max(${PROBES_METRICS.lockWaitEstimateSeconds}{${I}, lock="namespace_sem"})`, undefined, { instant: true }),
        4,
        'MountStormLockWaitHigh',
      ),
      4,
      4,
    ],
    [
      statPanel(
        'Deepest overlay',
        'short',
        'Lower layers of the deepest overlay mount; more than 10 is the common warning level.',
        q(`max(${MOUNTS_METRICS.overlayLowerLayersMax}{${I}})`, undefined, { instant: true }),
        4,
        'MountStormDeepLayersRiskyTopology',
      ),
      4,
      4,
    ],

    [
      ts(
        'Mount table by filesystem type',
        'short',
        'Entries in the watched mount table, by fstype.',
        [q(`sum by (fstype) (${MOUNTS_METRICS.mounts}{${I}})`, '{{fstype}}')],
        12,
        8,
        'MountTableRunawayGrowth',
      ),
      12,
      8,
    ],
    [
      ts(
        'Mount churn',
        'ops',
        'Mounts appearing and disappearing between samples, per second (a lower bound: churn within one sample is missed).',
        [
          q(`sum(rate(${MOUNTS_METRICS.mountsAdded}{${I}}[${R}]))`, 'added'),
          q(`sum(rate(${MOUNTS_METRICS.mountsRemoved}{${I}}[${R}]))`, 'removed'),
        ],
        12,
        8,
        'MountStormImminent',
      ),
      12,
      8,
    ],

    [
      ts(
        'Mount syscalls by syscall',
        'ops',
        'Exact mount-family syscalls per second by syscall (tracefs).',
        [q(`sum by (syscall) (rate(${TRACEFS_METRICS.mountSyscalls}{${I}}[${R}]))`, '{{syscall}}')],
        12,
        8,
        'MountStormImminent',
      ),
      12,
      8,
    ],
    [
      ts(
        'Mount syscalls by process',
        'ops',
        'Which processes make the mount syscalls: containerd, runc, systemd, kubelet (tracefs).',
        [q(`sum by (comm) (rate(${TRACEFS_METRICS.mountSyscallsByProcess}{${I}}[${R}]))`, '{{comm}}')],
        12,
        8,
      ),
      12,
      8,
    ],
    [
      ts(
        'Mount syscalls by runtime step',
        'ops',
        'Which step of a container start makes the mount syscalls (tracefs, by process name): the shim preparing the rootfs, the runtime itself (containerd reading the image through its own idmapped mounts), the OCI runtime setting up the container, kubelet, systemd.',
        [q(`sum by (actor) (rate(${TRACEFS_METRICS.mountSyscallsByActor}{${I}}[${R}]))`, '{{actor}}')],
        12,
        8,
      ),
      12,
      8,
    ],

    [
      heat(
        'namespace_sem probe latency',
        'Distribution of the namespace_sem probe (first 4 KiB read of mountinfo): it queues behind mount writers.',
        q(
          `sum by (le) (rate(${PROBES_METRICS.probeDurationSeconds}_bucket{${I}, probe="namespace_sem"}[${R}]))`,
          '{{le}}',
          { format: 'heatmap' },
        ),
        'MountStormLockWaitHigh',
      ),
      12,
      8,
    ],
    [
      heat(
        'Mount syscall latency',
        'Distribution of mount-family syscall durations, entry to exit (tracefs).',
        q(`sum by (le) (rate(${TRACEFS_METRICS.mountSyscallDurationSeconds}_bucket{${I}}[${R}]))`, '{{le}}', {
          format: 'heatmap',
        }),
        'MountStormImminent',
      ),
      12,
      8,
    ],

    [
      ts(
        'Measured lock wait by lock kind',
        's',
        'Seconds per second in lock contention inside mount syscalls, by kind (rwsem_write is namespace_sem taken for writing; spin includes mount_lock).',
        [q(`sum by (kind) (rate(${TRACEFS_METRICS.mountLockWaitSeconds}{${I}}[${R}]))`, '{{kind}}')],
        12,
        8,
        'MountStormImminent',
      ),
      12,
      8,
    ],
    [
      ts(
        'Lock-wait probes above baseline',
        's',
        'The probe estimates (recent median above the learned quiet baseline) and the baselines themselves.',
        [
          q(`max by (lock) (${PROBES_METRICS.lockWaitEstimateSeconds}{${I}})`, '{{lock}} above baseline'),
          q(`max by (probe) (${PROBES_METRICS.probeBaselineSeconds}{${I}})`, '{{probe}} baseline'),
        ],
        12,
        8,
        'MountStormLockWaitHigh',
      ),
      12,
      8,
    ],

    [
      ts(
        'Mount syscall latency p99',
        's',
        '99th percentile duration per syscall (tracefs).',
        [
          q(
            `histogram_quantile(0.99, sum by (syscall, le) (rate(${TRACEFS_METRICS.mountSyscallDurationSeconds}_bucket{${I}}[${R}])))`,
            '{{syscall}}',
          ),
        ],
        12,
        8,
      ),
      12,
      8,
    ],
    [
      ts(
        'Mount syscall errors',
        'ops',
        'Failed mount-family syscalls per second by errno; ENOSPC means fs.mount-max was hit (0 when none failed).',
        [q(`sum by (errno) (rate(${TRACEFS_METRICS.mountSyscallErrors}{${I}}[${R}])) or vector(0)`, '{{errno}}')],
        12,
        8,
        'MountTableNearMax',
      ),
      12,
      8,
    ],

    [
      ts(
        'CPU by socket: system vs user',
        'percentunit',
        'CPU time per socket, system (where the mount locks spin) against user.',
        [
          q(
            `sum by (socket, mode) (rate(${CPU_METRICS.cpuSeconds}{${I}, mode=~"system|user"}[${R}]))`,
            'socket {{socket}} {{mode}}',
          ),
        ],
        12,
        8,
      ),
      12,
      8,
    ],
    [
      ts(
        'Container starts',
        'ops',
        "New container bundles per second in the runtime's task directories, and those in a user namespace of their own (the starts a per-layer idmapping runtime pays for).",
        [
          q(`sum(rate(${CONTAINERS_METRICS.containerStarts}{${I}}[${R}]))`, 'starts'),
          q(`sum(rate(${CONTAINERS_METRICS.usernsStarts}{${I}}[${R}]))`, 'user-namespaced'),
        ],
        12,
        8,
      ),
      12,
      8,
    ],
    [
      new table.PanelBuilder()
        .title('Images starting the most containers')
        .unit('short')
        .description(
          `Container starts over the dashboard's time range by the image their bundle names (the CRI's annotation; "unknown" for none). The exporter keeps a series for a bounded number of images (--collector.containers.image-series); the rest count as "other".`,
        )
        .datasource(DS)
        .withTarget(
          q(`topk(10, sum by (image) (increase(${CONTAINERS_METRICS.imageStarts}{${I}}[$__range])) > 0)`, undefined, {
            instant: true,
            format: 'table',
          }),
        ),
      12,
      8,
    ],
    [
      new table.PanelBuilder()
        .title('Images driving mount churn (starts × layers)')
        .unit('short')
        .description(
          `Lower layers of the rootfs overlays started over the dashboard's time range, by image: the mounts a per-layer idmapping runtime makes for it. The storm page's description names the top one. Image labels as in the table of starts.`,
        )
        .datasource(DS)
        .withTarget(
          q(
            `topk(10, sum by (image) (increase(${CONTAINERS_METRICS.imageStartLayers}{${I}}[$__range])) > 0)`,
            undefined,
            { instant: true, format: 'table' },
          ),
        ),
      12,
      8,
    ],
    [
      ts(
        'Leaked runtime mounts',
        'short',
        "Mounts a container runtime makes for a start and should have unmounted within it, still there after --collector.mounts.idmap-linger (1m): idmapped mounts, and mounts at its temporary mount points (containerd's tmpmounts/containerd-mount*, ovl-idmapped*).",
        [
          q(`max(${MOUNTS_METRICS.idmappedMountsLingering}{${I}})`, 'idmapped'),
          q(`max(${MOUNTS_METRICS.runtimeTempMountsLingering}{${I}})`, 'runtime temporary'),
        ],
        12,
        8,
        'MountStormRuntimeTempMountsLeaked',
      ),
      12,
      8,
    ],
    [
      new table.PanelBuilder()
        .title('Deepest images running')
        .unit('short')
        .description(
          `Lower layers of the rootfs overlay of each image's deepest running container, found by the exporter in the watched mount namespace (statx + statmount, Linux 6.8+): the images a per-layer idmapping runtime pays most for at every start.`,
        )
        .datasource(DS)
        .withTarget(
          q(`sort_desc(max by (image) (${CONTAINERS_METRICS.imageLayers}{${I}}))`, undefined, {
            instant: true,
            format: 'table',
          }),
        ),
      12,
      8,
    ],
    [
      ts(
        'Mount work per container start',
        'short',
        'The storm signature: mount syscalls, mounts attached and detached, and idmapped mounts made per container start. A runtime that idmaps every layer makes ~450 syscalls per start at 50 layers; one that idmaps their common parent ~54 whatever the depth.',
        [
          q(
            `sum(rate(${TRACEFS_METRICS.mountSyscalls}{${I}}[${R}])) / (sum(rate(${CONTAINERS_METRICS.containerStarts}{${I}}[${R}])) > 0)`,
            'mount syscalls',
          ),
          q(
            `sum(rate(${NAMESPACES_METRICS.mountEvents}{${I}}[${R}])) / (sum(rate(${CONTAINERS_METRICS.containerStarts}{${I}}[${R}])) > 0)`,
            'mounts attached + detached',
          ),
          q(
            `sum(rate(${TRACEFS_METRICS.mountSyscalls}{${I}, syscall="mount_setattr"}[${R}])) / (sum(rate(${CONTAINERS_METRICS.containerStarts}{${I}}[${R}])) > 0)`,
            'idmapped mounts made',
          ),
        ],
        12,
        8,
        'MountStormImminent',
      ),
      12,
      8,
    ],
    [
      ts(
        'Node alerts and their page path',
        'short',
        "The exporter's own evaluation of its storm alerts (1 = pending or firing), and whether it reaches each Alertmanager (--alertmanager.url; no data when off).",
        [
          q(
            `max by (alertname, state) (${EVALUATOR_METRICS.nodeAlerts}{${I}, state!="inactive"})`,
            '{{alertname}} {{state}}',
          ),
          q(`max by (alertmanager) (${NOTIFY_METRICS.alertmanagerUp}{${I}})`, 'reaches {{alertmanager}}'),
        ],
        12,
        8,
        'MountStormImminent',
      ),
      12,
      8,
    ],

    [
      ts(
        'Overlay layers',
        'short',
        'Overlay mounts, and the lower layers of the deepest one.',
        [
          q(`max(${MOUNTS_METRICS.overlayMounts}{${I}})`, 'overlay mounts'),
          q(`max(${MOUNTS_METRICS.overlayLowerLayersMax}{${I}})`, 'deepest overlay (layers)'),
        ],
        12,
        8,
        'MountStormDeepLayersRiskyTopology',
      ),
      12,
      8,
    ],
    [
      ts(
        'Exporter health',
        'short',
        'Collectors failing (0 = all good), sample overruns and trace events lost per second.',
        [
          q(`count(${EXPORTER_METRICS.scrapeCollectorSuccess}{${I}} == 0) or vector(0)`, 'collectors failing'),
          q(`sum(rate(${EXPORTER_METRICS.sampleOverruns}{${I}}[${R}]))`, 'overruns/s'),
          q(`sum(rate(${TRACEFS_METRICS.traceEventsLost}{${I}}[${R}]))`, 'trace events lost/s'),
        ],
        12,
        8,
        'MountStormCollectorFailing',
      ),
      12,
      8,
    ],
    [
      ts(
        'Exporter cost',
        's',
        "The exporter's own CPU (seconds per second) and its slowest collector per sample.",
        [
          q(`sum(rate(${EXPORTER_METRICS.processCpuSeconds}{${I}}[${R}]))`, 'CPU'),
          q(`max(${EXPORTER_METRICS.scrapeCollectorDurationSeconds}{${I}})`, 'slowest collector'),
        ],
        12,
        8,
      ),
      12,
      8,
    ],
  ];
  return build(
    {
      title: 'Mount storm — node',
      uid: 'mountstorm-node',
      description:
        'One node: mount table size and churn, syscalls and lock wait, per-socket CPU and the exporter itself.',
      refresh: '10s',
      from: 'now-1h',
      multiNode: false,
    },
    panels,
  );
}

export function fleetDashboard(): dashboard.Dashboard {
  const I = `${J()}, instance=~"$instance"`;
  const R = '$__rate_interval';
  const topo = `* on (instance) group_left (sockets, smt) max by (instance, sockets, smt) (${CPU_METRICS.cpuTopologyInfo}{${I}}) * on (instance) group_left (system_model) max by (instance, system_model) (${HOST_METRICS.hostInfo}{${I}})`;
  const panels: Array<[{ build(): unknown }, number, number]> = [
    [
      ts(
        'Nodes by mount syscall rate',
        'ops',
        'The 10 nodes making the most mount-family syscalls per second (tracefs).',
        [q(`topk(10, sum by (instance) (rate(${TRACEFS_METRICS.mountSyscalls}{${I}}[${R}])))`, '{{instance}}')],
        12,
        8,
        'MountStormImminent',
      ),
      12,
      8,
    ],
    [
      ts(
        'Nodes by measured lock wait',
        's',
        'The 10 nodes whose mount syscalls spend the most time in lock contention, seconds per second (tracefs).',
        [q(`topk(10, sum by (instance) (rate(${TRACEFS_METRICS.mountLockWaitSeconds}{${I}}[${R}])))`, '{{instance}}')],
        12,
        8,
        'MountStormImminent',
      ),
      12,
      8,
    ],
    [
      ts(
        'Nodes by namespace_sem wait',
        's',
        'The 10 nodes whose namespace_sem probe sits furthest above its quiet baseline.',
        [
          q(
            `topk(10, max by (instance) (${PROBES_METRICS.lockWaitEstimateSeconds}{${I}, lock="namespace_sem"}))`,
            '{{instance}}',
          ),
        ],
        12,
        8,
        'MountStormLockWaitHigh',
      ),
      12,
      8,
    ],
    [
      ts(
        'Nodes by mount table size',
        'short',
        'The 10 nodes with the largest mount tables.',
        [q(`topk(10, sum by (instance) (${MOUNTS_METRICS.mounts}{${I}}))`, '{{instance}}')],
        12,
        8,
        'MountTableNearMax',
      ),
      12,
      8,
    ],
    [
      ts(
        'namespace_sem wait by topology',
        's',
        'The hardware comparison: the probe estimate averaged by socket count, SMT and instance type.',
        [
          q(
            `avg by (sockets, smt, system_model) (max by (instance) (${PROBES_METRICS.lockWaitEstimateSeconds}{${I}, lock="namespace_sem"}) ${topo})`,
            '{{system_model}} sockets={{sockets}} smt={{smt}}',
          ),
        ],
        12,
        8,
        'MountStormDeepLayersRiskyTopology',
      ),
      12,
      8,
    ],
    [
      ts(
        'Measured lock wait by topology',
        's',
        'The hardware comparison with tracefs: lock wait inside mount syscalls per node, averaged by socket count, SMT and instance type.',
        [
          q(
            `avg by (sockets, smt, system_model) (sum by (instance) (rate(${TRACEFS_METRICS.mountLockWaitSeconds}{${I}}[${R}])) ${topo})`,
            '{{system_model}} sockets={{sockets}} smt={{smt}}',
          ),
        ],
        12,
        8,
        'MountStormDeepLayersRiskyTopology',
      ),
      12,
      8,
    ],
    [
      new table.PanelBuilder()
        .title('Nodes')
        .unit('short')
        .description('Every node: topology, instance type, mount table size and deepest overlay.')
        .datasource(DS)
        .withTarget(
          q(
            `max by (instance, sockets, numa_nodes, smt, cpu_model) (${CPU_METRICS.cpuTopologyInfo}{${I}}) * on (instance) group_left (system_model) max by (instance, system_model) (${HOST_METRICS.hostInfo}{${I}}) * on (instance) group_left () sum by (instance) (${MOUNTS_METRICS.mounts}{${I}})`,
            undefined,
            { instant: true, format: 'table' },
          ),
        ),
      24,
      8,
    ],
  ];
  return build(
    {
      title: 'Mount storm — fleet',
      uid: 'mountstorm-fleet',
      description: 'All nodes: who storms, whose locks wait, and which hardware suffers most.',
      refresh: '30s',
      from: 'now-6h',
      multiNode: true,
    },
    panels,
  );
}

export const DASHBOARDS: Record<string, () => dashboard.Dashboard> = {
  'mountstorm-node.json': nodeDashboard,
  'mountstorm-fleet.json': fleetDashboard,
};

/** Panel ids and query refIds, which Grafana would otherwise assign on load, so the JSON is stable. */
function number(d: dashboard.Dashboard): dashboard.Dashboard {
  (d.panels ?? []).forEach((p, i) => {
    const panel = p as { id?: number; targets?: Array<{ refId?: string }> };
    panel.id = i + 1;
    (panel.targets ?? []).forEach((t, j) => (t.refId = String.fromCharCode(65 + j)));
  });
  return d;
}

export function renderDashboard(name: string, settings: AlertsConfig = DEFAULT_ALERTS_CONFIG): string {
  const make = DASHBOARDS[name];
  if (!make) throw new Error(`no dashboard ${name}`);
  cfg = settings;
  try {
    return JSON.stringify(number(make()), null, 2) + '\n';
  } finally {
    cfg = DEFAULT_ALERTS_CONFIG;
  }
}

export const RENDER_DASHBOARDS_FLAGS: FlagSpec[] = [
  {
    name: 'config',
    kind: 'path',
    default: undefined,
    help: 'Alert bundle settings: the selector and runbook_url are used (see alerts/README.md).',
  },
  { name: 'output-dir', kind: 'path', default: '.', help: 'Directory the dashboards are written to.' },
];

export function renderDashboardsCommand(argv: string[]): number {
  const args = parseArgs(argv, RENDER_DASHBOARDS_FLAGS);
  if (args.help) {
    process.stdout.write(
      `usage: mountstorm render-dashboards [flags]\n\nWrites ${Object.keys(DASHBOARDS).join(' and ')} with your selector and runbook URL.\n\nflags:\n${flagsHelp(RENDER_DASHBOARDS_FLAGS)}\n`,
    );
    return 0;
  }
  if (args.positionals.length > 0) throw new ConfigError(`unexpected argument "${args.positionals[0]}"`);
  const file = flagValue<string | undefined>(args, RENDER_DASHBOARDS_FLAGS, 'config');
  const settings = file === undefined ? DEFAULT_ALERTS_CONFIG : loadAlertsConfig(file);
  const dir = flagValue<string>(args, RENDER_DASHBOARDS_FLAGS, 'output-dir');
  for (const name of Object.keys(DASHBOARDS)) fs.writeFileSync(path.join(dir, name), renderDashboard(name, settings));
  return 0;
}

if (require.main === module) {
  const out = process.argv[2] ?? 'grafana';
  for (const name of Object.keys(DASHBOARDS)) fs.writeFileSync(path.join(out, name), renderDashboard(name));
}
