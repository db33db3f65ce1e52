/**
 * CPU time per socket and NUMA node (/proc/stat aggregated through sysfs topology) and the topology
 * itself: the mount storm is a cache-line-bouncing problem, worst across sockets and with SMT on.
 */
import { promises as fs } from 'node:fs';
import { errnoCode } from '../errors';
import { parseCpuModel } from '../procfs/cpuinfo';
import { CPU_MODES, parseProcStat, USER_HZ } from '../procfs/stat';
import { TopologyCache } from '../sysfs/topology';
import { MonotonicDelta, type Collector, type CollectorContext } from './collector';


export class CpuCollector implements Collector {
  readonly name = 'cpu';
  private readonly seconds;
  private readonly topologyInfo;
  private readonly smtActive;
  private readonly deltas = new MonotonicDelta();
  private readonly topology: TopologyCache;
  private model: string | undefined;

  constructor(private readonly ctx: CollectorContext) {
    const e = ctx.exposition;
    this.seconds = e.counter('mountstorm_cpu_seconds_total', 'CPU time by socket, NUMA node and mode (from /proc/stat).', ['socket', 'numa_node', 'mode']);
    this.topologyInfo = e.gauge('mountstorm_cpu_topology_info', 'CPU model, socket and NUMA node counts and whether SMT is on; value is 1.', ['cpu_model', 'sockets', 'numa_nodes', 'smt']);
    this.topology = new TopologyCache(ctx.paths);
    this.smtActive = e.gauge('mountstorm_smt_active', '1 when SMT sibling threads are online, else 0.');
  }

  private async cpuModel(): Promise<string> {
    try {
      return parseCpuModel(await fs.readFile(this.ctx.paths.proc('cpuinfo'), 'utf8')) ?? 'unknown';
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 'unknown';
      throw err;
    }
  }

  async update(): Promise<void> {
    const topo = await this.topology.get();
    this.model ??= await this.cpuModel();
    const stat = parseProcStat(await fs.readFile(this.ctx.paths.proc('stat'), 'utf8'), this.ctx.paths.proc('stat'));

    const sums = new Map<string, { socket: string; numa_node: string; mode: string; ticks: number }>();
    for (const [cpu, times] of stat.cpus) {
      const place = topo.cpus.get(cpu) ?? { socket: 'unknown', numaNode: 'unknown' };
      for (const mode of CPU_MODES) {
        const v = times[mode];
        if (v === undefined) continue;
        const d = this.deltas.delta(`${cpu}/${mode}`, v);
        const key = `${place.socket}/${place.numaNode}/${mode}`;
        const s = sums.get(key) ?? { socket: place.socket, numa_node: place.numaNode, mode, ticks: 0 };
        s.ticks += d;
        sums.set(key, s);
      }
    }

    for (const s of sums.values()) this.seconds.inc({ socket: s.socket, numa_node: s.numa_node, mode: s.mode }, s.ticks / USER_HZ);
    this.topologyInfo.reset();
    this.topologyInfo.set({ cpu_model: this.model, sockets: String(topo.sockets), numa_nodes: String(topo.numaNodes), smt: topo.smt ? 'on' : 'off' }, 1);
    this.smtActive.set(topo.smt ? 1 : 0);
  }
}
