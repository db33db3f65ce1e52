/**
 * CPU time per socket and NUMA node (/proc/stat aggregated through sysfs topology) and the topology
 * itself: the mount storm is a cache-line-bouncing problem, worst across sockets and with SMT on.
 */
import { promises as fs } from 'node:fs';
import { errnoCode } from '../errors';
import { parseCpuModel } from '../procfs/cpuinfo';
import { CPU_MODES, parseProcStat, USER_HZ } from '../procfs/stat';
import { MonotonicDelta } from '../sources/monotonic-delta';
import { TopologyCache } from '../sysfs/topology';
import { defineCollector, type Collector, type CollectorContext } from './collector';
import { CPU_METRICS } from '../metric-names';

const M = CPU_METRICS;

export interface CpuSnapshot {
  /** CPU seconds since the last sample, by socket, NUMA node and mode. */
  seconds: Array<{ socket: string; numaNode: string; mode: string; seconds: number }>;
  /** The topology; cpus: the CPUs online (per-CPU masks add one mount per start for each). */
  topology: { cpuModel: string; sockets: number; numaNodes: number; smt: boolean; cpus: number };
}

export class CpuCollector implements Collector<CpuSnapshot> {
  readonly name = 'cpu';
  private readonly seconds;
  private readonly topologyInfo;
  private readonly smtActive;
  private readonly deltas = new MonotonicDelta();
  private readonly topology: TopologyCache;
  private model: string | undefined;

  constructor(private readonly ctx: CollectorContext) {
    const e = ctx.exposition;
    this.seconds = e.counter(M.cpuSeconds, 'CPU time by socket, NUMA node and mode (from /proc/stat).', [
      'socket',
      'numa_node',
      'mode',
    ]);
    this.topologyInfo = e.gauge(
      M.cpuTopologyInfo,
      'CPU model, socket and NUMA node counts and whether SMT is on; value is 1.',
      ['cpu_model', 'sockets', 'numa_nodes', 'smt'],
    );
    this.topology = new TopologyCache(ctx.paths);
    this.smtActive = e.gauge(M.smtActive, '1 when SMT sibling threads are online, else 0.');
  }

  private async cpuModel(): Promise<string> {
    try {
      return parseCpuModel(await fs.readFile(this.ctx.paths.proc('cpuinfo'), 'utf8')) ?? 'unknown';
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 'unknown';
      throw err;
    }
  }

  async collect(): Promise<CpuSnapshot> {
    const topo = await this.topology.get();
    this.model ??= await this.cpuModel();
    const stat = parseProcStat(await fs.readFile(this.ctx.paths.proc('stat'), 'utf8'), this.ctx.paths.proc('stat'));
    // Ticks are summed first, then turned into seconds once: the figures stay exact decimals.
    const sums = new Map<string, { socket: string; numaNode: string; mode: string; ticks: number }>();
    for (const [cpu, times] of stat.cpus) {
      const place = topo.cpus.get(cpu) ?? { socket: 'unknown', numaNode: 'unknown' };
      for (const mode of CPU_MODES) {
        const v = times[mode];
        if (v === undefined) continue;
        const d = this.deltas.delta(`${cpu}/${mode}`, v);
        const key = `${place.socket}/${place.numaNode}/${mode}`;
        const s = sums.get(key) ?? { socket: place.socket, numaNode: place.numaNode, mode, ticks: 0 };
        s.ticks += d;
        sums.set(key, s);
      }
    }
    const seconds = [...sums.values()].map(({ ticks, ...where }) => ({ ...where, seconds: ticks / USER_HZ }));
    return {
      seconds,
      topology: {
        cpuModel: this.model,
        sockets: topo.sockets,
        numaNodes: topo.numaNodes,
        smt: topo.smt,
        cpus: topo.cpus.size,
      },
    };
  }

  apply(s: CpuSnapshot): void {
    for (const c of s.seconds) this.seconds.inc({ socket: c.socket, numa_node: c.numaNode, mode: c.mode }, c.seconds);
    const t = s.topology;
    this.topologyInfo.reset();
    this.topologyInfo.set(
      { cpu_model: t.cpuModel, sockets: String(t.sockets), numa_nodes: String(t.numaNodes), smt: t.smt ? 'on' : 'off' },
      1,
    );
    this.smtActive.set(t.smt ? 1 : 0);
  }
}

export const cpuCollector = defineCollector({
  name: 'cpu',
  defaultEnabled: true,
  help: 'CPU time per socket and NUMA node, CPU topology and SMT.',
  flags: [],
  options: () => ({}),
  create: (ctx) => new CpuCollector(ctx),
});
