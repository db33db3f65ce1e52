/**
 * The fleet dashboard: all nodes, who storms, whose locks wait, and which hardware suffers most.
 * Queries use the raw metrics (not the recording rules), so it works where the rules are not loaded.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as table from '@grafana/grafana-foundation-sdk/table';
import type { AlertsConfig } from '../alerts/config';

import { DS, panelKit } from './panels';
import { CPU_METRICS, HOST_METRICS, MOUNTS_METRICS, PROBES_METRICS, TRACEFS_METRICS } from '../metric-names';

export function fleetDashboard(cfg: AlertsConfig): dashboard.Dashboard {
  const { J, q, ts, build } = panelKit(cfg);
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
