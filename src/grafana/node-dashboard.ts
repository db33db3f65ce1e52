/**
 * The node dashboard: one node's mount table, lock waits, syscalls, container starts and culprits,
 * and the path of its page. Queries use the raw metrics (not the recording rules), so it works where
 * the rules are not loaded.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as table from '@grafana/grafana-foundation-sdk/table';
import type { AlertsConfig } from '../alerts/config';

import { DS, panelKit } from './panels';
import {
  CONTAINERS_METRICS,
  CPU_METRICS,
  EVALUATOR_METRICS,
  EXPORTER_METRICS,
  MOUNTS_METRICS,
  NAMESPACES_METRICS,
  NOTIFY_METRICS,
  PROBES_METRICS,
  TRACEFS_METRICS,
} from '../metric-names';

export function nodeDashboard(cfg: AlertsConfig): dashboard.Dashboard {
  const { J, q, ts, statPanel, heat, build } = panelKit(cfg);
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
        "Container starts per second by runtime, from each runtime's own records (containerd's task directories, Podman's and CRI-O's containers/storage); those in a user namespace of their own (the starts a per-layer idmapping runtime pays for); and new mount namespaces, the kernel's start signal (every start makes one: the page divides by it where no runtime directory is watched, and it cross-checks the runtimes' count where one is).",
        [
          q(`sum by (runtime) (rate(${CONTAINERS_METRICS.containerStarts}{${I}}[${R}]))`, '{{runtime}}'),
          q(`sum(rate(${CONTAINERS_METRICS.usernsStarts}{${I}}[${R}]))`, 'user-namespaced'),
          q(`sum(rate(${NAMESPACES_METRICS.mountNamespacesCreated}{${I}}[${R}]))`, 'new mount namespaces'),
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
        'The storm signature: mount syscalls, new mounts made (each attached and detached again, in every mount namespace), mounts attached and detached (fanotify, marked namespaces only), and idmapped mounts made per container start. A runtime that idmaps every layer makes ~450 syscalls and ~102 new mounts per start at 50 layers; one that idmaps their common parent ~54 syscalls whatever the depth. The tracefs figures divide by the starts of the time tracing was armed.',
        [
          q(
            `sum(rate(${TRACEFS_METRICS.mountSyscalls}{${I}}[${R}])) / (sum(rate(${EVALUATOR_METRICS.startsTraced}{${I}}[${R}])) > 0)`,
            'mount syscalls',
          ),
          q(
            `sum(rate(${TRACEFS_METRICS.mountsCreated}{${I}}[${R}])) / (sum(rate(${EVALUATOR_METRICS.startsTraced}{${I}}[${R}])) > 0)`,
            'new mounts',
          ),
          q(
            `sum(rate(${NAMESPACES_METRICS.mountEvents}{${I}}[${R}])) / (sum(rate(${CONTAINERS_METRICS.containerStarts}{${I}}[${R}])) > 0)`,
            'mounts attached + detached',
          ),
          q(
            `sum(rate(${TRACEFS_METRICS.mountSyscalls}{${I}, syscall="mount_setattr"}[${R}])) / (sum(rate(${EVALUATOR_METRICS.startsTraced}{${I}}[${R}])) > 0)`,
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
        'Time in mount syscalls per container start',
        's',
        "Seconds each container start spends inside mount-family syscalls (lock wait included), and of them inside unshare(CLONE_NEWNS): its new mount namespace copying the whole table under namespace_sem held for writing. More than 5 ms per start copying is a copy storm's signature; copies taking most of the time name it the cause (tracefs; per start of the time tracing was armed).",
        [
          q(
            `sum(rate(${TRACEFS_METRICS.mountSyscallDurationSeconds}_sum{${I}}[${R}])) / (sum(rate(${EVALUATOR_METRICS.startsTraced}{${I}}[${R}])) > 0)`,
            'in mount syscalls',
          ),
          q(
            `sum(rate(${TRACEFS_METRICS.mountSyscallDurationSeconds}_sum{${I}, syscall="unshare"}[${R}])) / (sum(rate(${EVALUATOR_METRICS.startsTraced}{${I}}[${R}])) > 0)`,
            'copying the table (unshare)',
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
          q(`count(${EXPORTER_METRICS.sampleCollectorSuccess}{${I}} == 0) or vector(0)`, 'collectors failing'),
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
          q(`max(${EXPORTER_METRICS.sampleCollectorDurationSeconds}{${I}})`, 'slowest collector'),
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
