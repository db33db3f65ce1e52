/**
 * CPU placement read from sysfs: which socket (physical package) and NUMA node each CPU belongs to,
 * and whether SMT siblings are online. Missing files are tolerated: a CPU without a topology
 * directory is placed in socket "unknown", a kernel without NUMA nodes puts every CPU in node "0".
 */
import { promises as fs } from 'node:fs';
import { HostPaths } from '../fs/paths';
import { errnoCode } from '../errors';
import { parseCpuList } from './cpulist';

export interface CpuPlacement {
  socket: string;
  numaNode: string;
}

export interface Topology {
  cpus: Map<number, CpuPlacement>;
  sockets: number;
  numaNodes: number;
  /** SMT siblings are online (from smt/active, else from thread sibling lists). */
  smt: boolean;
}

async function readTrimmed(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    if (['ENOENT', 'ENOTDIR', 'EINVAL', 'ENODEV'].includes(errnoCode(err) ?? '')) return undefined;
    throw err;
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (['ENOENT', 'ENOTDIR'].includes(errnoCode(err) ?? '')) return [];
    throw err;
  }
}

export async function readTopology(paths: HostPaths): Promise<Topology> {
  const cpuDir = paths.sys('devices/system/cpu');
  const cpuIds = (await listDir(cpuDir))
    .map((n) => /^cpu(\d+)$/.exec(n)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);

  const nodeOf = new Map<number, string>();
  const nodeDir = paths.sys('devices/system/node');
  const nodeNames = (await listDir(nodeDir)).filter((n) => /^node\d+$/.test(n));
  for (const name of nodeNames) {
    const list = await readTrimmed(`${nodeDir}/${name}/cpulist`);
    if (list === undefined) continue;
    for (const cpu of parseCpuList(list, `${nodeDir}/${name}/cpulist`)) nodeOf.set(cpu, name.slice(4));
  }

  const cpus = new Map<number, CpuPlacement>();
  let siblingsSeen = false;
  for (const cpu of cpuIds) {
    const topo = `${cpuDir}/cpu${cpu}/topology`;
    const pkg = await readTrimmed(`${topo}/physical_package_id`);
    // Some architectures report -1 when firmware gives no package; that is still one socket.
    const socket = pkg === undefined ? 'unknown' : pkg === '-1' ? '0' : pkg;
    cpus.set(cpu, { socket, numaNode: nodeOf.get(cpu) ?? (nodeNames.length === 0 ? '0' : 'unknown') });
    const siblings =
      (await readTrimmed(`${topo}/core_cpus_list`)) ?? (await readTrimmed(`${topo}/thread_siblings_list`));
    if (siblings !== undefined && parseCpuList(siblings, `${topo}/thread_siblings_list`).length > 1)
      siblingsSeen = true;
  }

  const active = await readTrimmed(`${cpuDir}/smt/active`);
  const smt = active === undefined ? siblingsSeen : active === '1';
  const sockets = new Set([...cpus.values()].map((p) => p.socket).filter((s) => s !== 'unknown')).size;
  const numaNodes = nodeNames.length === 0 ? 1 : nodeNames.length;
  return { cpus, sockets, numaNodes, smt };
}

/** Topology changes only with CPU hotplug: read it at most once per `refreshMs`. */
export class TopologyCache {
  private cached: { value: Topology; at: number } | undefined;

  constructor(
    private readonly paths: HostPaths,
    private readonly refreshMs = 60_000,
  ) {}

  async get(now = Date.now()): Promise<Topology> {
    if (!this.cached || now - this.cached.at >= this.refreshMs)
      this.cached = { value: await readTopology(this.paths), at: now };
    return this.cached.value;
  }
}
