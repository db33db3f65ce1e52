/**
 * `mountstorm doctor`: one look at this host, through the same path seam as the exporter (so it runs
 * on fixture trees too). Gathers facts, then grades the risk with the thresholds the alerts use.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { THRESHOLDS } from '../alerts/thresholds';
import { pageCapability, tracedThroughStorms, type PageCapability } from '../alerts/capability';
import { errnoCode, errorMessage } from '../errors';
import type { HostPaths } from '../fs/paths';

import { parseCpuModel } from '../procfs/cpuinfo';
import { hasCapSysAdmin } from '../kernel/capabilities';
import { fanotifyMountProbe, listmountProbe, nsfsProbe } from '../kernel/features';
import { readBundle } from '../oci/bundle';
import {
  containerdRuntime,
  storageContainerDirs,
  StorageContainers,
  storageRuntime,
  type LayoutKind,
  type Runtime,
  type RuntimeDir,
} from '../oci/runtimes';
import { readTopology } from '../sysfs/topology';
import { availableEvents, TRACED_SYSCALLS, type AvailableEvents } from '../sources/tracefs/events';
import { isTracefs, tracefsCandidates } from '../sources/tracefs/locate';
import { isIdmapped, parseMountinfo } from '../procfs/mountinfo/parse';
import { overlayLowerLayerCount } from '../procfs/mountinfo/overlay';

export type Risk = 'low' | 'medium' | 'high';
export type Availability = 'yes' | 'no' | 'unknown';

export interface Finding {
  risk: Risk;
  what: string;
  advice: string;
}

export interface Diagnosis {
  host: {
    kernel: string;
    cpuModel: string;
    systemVendor: string;
    systemModel: string;
    cpus: number;
    sockets: number;
    numaNodes: number;
    smt: boolean;
  };
  mountTable: {
    pid: string;
    mounts: number | undefined;
    mountMax: number | undefined;
    utilisation: number | undefined;
    idmapped: number;
    overlays: number;
    parseErrors: number;
    error?: string;
  };
  /** Overlay mounts by lower-layer depth: "1", "2-5", "6-10", "11-20", "21-50", ">50". */
  layerDepth: Record<string, number>;
  deepestOverlay: number;
  features: Record<
    | 'tracefs'
    | 'syscall_tracepoints'
    | 'lock_contention_tracepoints'
    | 'listmount_statmount'
    | 'nsfs_mount_info'
    | 'nsfs_namespace_walk'
    | 'fanotify_mount_events',
    { available: Availability; detail: string }
  >;
  collectors: Record<string, { works: boolean; why: string }>;
  /** Whether an exporter with these privileges and facilities can page on a storm, and what it lacks. */
  page: PageCapability;
  /** The containers in the runtimes' directories now, by the image their bundle names, with the lower layers of their rootfs overlay. */
  containers: { running: number; unreadable: number; images: RunningImage[] };
  /** The runtime directories found (existing and listable), each with its containers by runtime. */
  runtimes: RuntimeFound[];
  startCost: StartCost;
  findings: Finding[];
  risk: Risk;
}

export interface RunningImage {
  image: string;
  containers: number;
  userNamespace: number;
  /** Lower layers of its containers' rootfs overlays in the watched table (the deepest), where one is mounted there. */
  layers: number | undefined;
  /** Of its containers, those whose bundle was made in the last RECENT_MS: the image's starts now. */
  recentStarts: number;
  /** The most masked paths (linux.maskedPaths) any of its containers has, and of those the per-CPU ones. */
  maskedPaths: number;
  perCpuMaskedPaths: number;
}

/**
 * What a container start costs on this host, before any storm: the mounts the per-CPU masks of
 * kubelet and containerd (2025-2026) make per start here (one per CPU), the most masked paths a
 * running container has, the deepest image running, and the mounts every new mount namespace copies.
 */
export interface StartCost {
  cpus: number;
  maskedPaths: number;
  perCpuMaskedPaths: number;
  deepestLayers: number | undefined;
  tableCopied: number | undefined;
}

/** More than one socket, or SMT on: where global-lock cache lines bounce between cores. */
function riskyTopology(host: { sockets: number; smt: boolean }): boolean {
  return host.sockets > 1 || host.smt;
}

/** A bundle younger than this is a start "now" (the landing page's images table looks as far back). */
export const RECENT_MS = 5 * 60_000;

/** When a bundle directory was made: its birth time where the filesystem keeps one, else its inode change. */
function madeAt(dir: string): number | undefined {
  try {
    const st = fs.statSync(dir);
    return st.birthtimeMs > 0 ? st.birthtimeMs : st.ctimeMs;
  } catch {
    return undefined;
  }
}

/** Bundles read at most, so a node with a pathological task directory still gets its diagnosis. */
const MAX_BUNDLES = 5000;

/** A runtime directory found: its layout, where, and the containers whose spec it holds now, by runtime. */
export interface RuntimeFound {
  layout: LayoutKind;
  dir: string;
  /** It exists and this process may list it (a non-root doctor cannot list containerd's 0711 one). */
  listable: boolean;
  /** Specs read, by the runtime that wrote them (containerd, docker, cri-o, podman, unknown). */
  containers: Partial<Record<Runtime, number>>;
}

/** Each container's bundle under a runtime directory: its path as read and as the runtime names it, and its runtime where the layout says. */
function bundlesIn(
  d: RuntimeDir & { seen: string },
): Array<{ seen: string; given: string; runtime?: Runtime; store?: string }> {
  const ls = (dir: string) => {
    try {
      return fs.readdirSync(dir);
    } catch {
      return [];
    }
  };
  if (d.layout === 'containerd')
    return ls(d.seen).flatMap((ns) =>
      ls(path.join(d.seen, ns))
        .filter((id) => !id.startsWith('.'))
        .map((id) => ({
          seen: path.join(d.seen, ns, id),
          given: path.join(d.dir, ns, id),
          runtime: containerdRuntime(ns),
        })),
    );
  return storageContainerDirs(d.seen).flatMap((store) =>
    ls(store)
      .filter((id) => fs.existsSync(path.join(store, id, 'userdata', 'config.json')))
      .map((id) => ({
        seen: path.join(store, id, 'userdata'),
        given: path.join(d.dir, path.basename(store), id, 'userdata'),
        store,
      })),
  );
}

/**
 * Every bundle under the runtime directories, read once, grouped by image, and the runtimes found;
 * `layersAt` maps a rootfs path to its overlay's lower layers. A container in both of a store's
 * roots counts once.
 */
function runningImages(
  dirs: ReadonlyArray<RuntimeDir & { seen: string }>,
  layersAt: Map<string, number>,
  now = Date.now(),
): Diagnosis['containers'] & { runtimes: RuntimeFound[] } {
  const byImage = new Map<string, RunningImage>();
  const runtimes: RuntimeFound[] = [];
  const stored = new Set<string>();
  /** Each store's containers.json, for the image names Podman keeps out of the spec (read once here). */
  const stores = new Map<string, StorageContainers>();
  let running = 0;
  let unreadable = 0;
  for (const d of dirs) {
    const found: RuntimeFound = { layout: d.layout, dir: d.dir, listable: false, containers: {} };
    try {
      fs.accessSync(d.seen, fs.constants.R_OK | fs.constants.X_OK);
      found.listable = fs.statSync(d.seen).isDirectory();
    } catch {
      // absent, or not ours to list
    }
    if (found.listable) runtimes.push(found);
    for (const f of found.listable ? bundlesIn(d) : []) {
      if (running + unreadable >= MAX_BUNDLES) break;
      try {
        const b = readBundle(f.seen, f.given);
        if (d.layout === 'containers-storage') {
          if (stored.has(b.id)) continue;
          stored.add(b.id);
        }
        const runtime = f.runtime ?? storageRuntime(b);
        found.containers[runtime] = (found.containers[runtime] ?? 0) + 1;
        running++;
        let named = b.image;
        if (named === undefined && f.store !== undefined && runtime === 'podman') {
          const store = stores.get(f.store) ?? new StorageContainers(f.store, 0);
          stores.set(f.store, store);
          const e = store.lookup(b.id);
          named = typeof e === 'object' ? e.image : undefined;
        }
        const image = named ?? 'unknown';
        const r = byImage.get(image) ?? {
          image,
          containers: 0,
          userNamespace: 0,
          layers: undefined,
          recentStarts: 0,
          maskedPaths: 0,
          perCpuMaskedPaths: 0,
        };
        r.maskedPaths = Math.max(r.maskedPaths, b.maskedPaths);
        r.perCpuMaskedPaths = Math.max(r.perCpuMaskedPaths, b.perCpuMaskedPaths);
        r.containers++;
        const made = madeAt(f.seen);
        if (made !== undefined && now - made <= RECENT_MS) r.recentStarts++;
        if (b.userNamespace) r.userNamespace++;
        const layers = b.rootfs === undefined ? undefined : layersAt.get(b.rootfs);
        if (layers !== undefined) r.layers = Math.max(r.layers ?? 0, layers);
        byImage.set(image, r);
      } catch {
        unreadable++;
      }
    }
  }
  const images = [...byImage.values()].sort(
    (a, b) => b.containers - a.containers || (b.layers ?? 0) - (a.layers ?? 0) || (a.image < b.image ? -1 : 1),
  );
  return { running, unreadable, images, runtimes };
}

export const DEPTH_BUCKETS: ReadonlyArray<[string, number, number]> = [
  ['1', 1, 1],
  ['2-5', 2, 5],
  ['6-10', 6, 10],
  ['11-20', 11, 20],
  ['21-50', 21, 50],
  ['>50', 51, Infinity],
];

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function canRead(file: string): { ok: boolean; why: string } {
  try {
    fs.closeSync(fs.openSync(file, 'r'));
    return { ok: true, why: `${file} is readable` };
  } catch (err) {
    return { ok: false, why: `${file}: ${errnoCode(err) ?? errorMessage(err)}` };
  }
}

export interface DoctorOptions {
  paths: HostPaths;
  mountPid: string;
  /** The runtime directories the exporter would watch (--collector.containers.task-dir, storage-dir). */
  runtimeDirs: RuntimeDir[];
  tracefsPath?: string;
  /** The exporter's --collector.tracefs.mode: on demand, tracing is armed by mount events. */
  tracefsMode?: string;
  /** Kernel feature probes that call syscalls (listmount, fanotify): only on the live host, not on fixture trees. */
  probeKernel: boolean;
}

/** The exporter's tracefs (src/sources/tracefs/locate.ts), or a fixture tree's directory holding events/. */
function tracefsDir(paths: HostPaths, configured: string | undefined): string | undefined {
  return tracefsCandidates(paths, configured).find((d) => isTracefs(d) || fs.existsSync(path.join(d, 'events')));
}

/** listmount(2) on the root of our namespace: ENOSYS means the kernel predates 6.8. */
function probeListmount(): { available: Availability; detail: string } {
  if (os.arch() !== 'x64' && os.arch() !== 'arm64')
    return { available: 'unknown', detail: `not probed on ${os.arch()}` };
  return listmountProbe();
}

function probeNsfs(): {
  info: { available: Availability; detail: string };
  walk: { available: Availability; detail: string };
} {
  return nsfsProbe();
}

function probeFanotifyMount(): { available: Availability; detail: string } {
  return fanotifyMountProbe();
}

/** Where no tracefs is mounted, a private mount namespace looks (root only). */
function privateTracefsEvents(): AvailableEvents | undefined {
  const r = spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', process.execPath, path.join(__dirname, 'tracefs-events.js')],
    { encoding: 'utf8', timeout: 10_000 },
  );
  if (r.status !== 0) return undefined;
  try {
    return JSON.parse(r.stdout) as AvailableEvents;
  } catch {
    return undefined;
  }
}

export async function diagnose(opts: DoctorOptions): Promise<Diagnosis> {
  const { paths } = opts;
  const topo = await readTopology(paths);
  const dmi = (f: string) => read(paths.sys('class/dmi/id', f))?.trim() || 'unknown';
  const host = {
    kernel: opts.probeKernel ? os.release() : 'unknown',
    cpuModel: parseCpuModel(read(paths.proc('cpuinfo')) ?? '') ?? 'unknown',
    systemVendor: dmi('sys_vendor'),
    systemModel: dmi('product_name'),
    cpus: topo.cpus.size,
    sockets: topo.sockets,
    numaNodes: topo.numaNodes,
    smt: topo.smt,
  };

  const mountinfoPath = paths.proc(opts.mountPid, 'mountinfo');
  const layerDepth: Record<string, number> = Object.fromEntries(DEPTH_BUCKETS.map(([k]) => [k, 0]));
  let deepestOverlay = 0;
  const layersAt = new Map<string, number>();
  const mountTable: Diagnosis['mountTable'] = {
    pid: opts.mountPid,
    mounts: undefined,
    mountMax: undefined,
    utilisation: undefined,
    idmapped: 0,
    overlays: 0,
    parseErrors: 0,
  };
  const maxText = read(paths.proc('sys/fs/mount-max'));
  mountTable.mountMax = maxText === undefined ? undefined : Number(maxText.trim());
  try {
    const parsed = parseMountinfo(fs.readFileSync(mountinfoPath, 'utf8'), mountinfoPath);
    mountTable.mounts = parsed.mounts.length;
    mountTable.parseErrors = parsed.errors.length;
    for (const m of parsed.mounts) {
      if (isIdmapped(m)) mountTable.idmapped++;
      if (m.fsType !== 'overlay') continue;
      mountTable.overlays++;
      const n = overlayLowerLayerCount(m.superOptions);
      layersAt.set(m.mountPoint, n);
      deepestOverlay = Math.max(deepestOverlay, n);
      const bucket = DEPTH_BUCKETS.find(([, lo, hi]) => n >= lo && n <= hi);
      if (bucket) layerDepth[bucket[0]] = (layerDepth[bucket[0]] ?? 0) + 1;
    }
    if (mountTable.mountMax) mountTable.utilisation = mountTable.mounts / mountTable.mountMax;
  } catch (err) {
    mountTable.error = `${mountinfoPath}: ${errnoCode(err) ?? errorMessage(err)}`;
  }

  const tdir = tracefsDir(paths, opts.tracefsPath);
  const admin = opts.probeKernel ? hasCapSysAdmin() : false;
  let events: AvailableEvents | undefined;
  if (tdir && fs.existsSync(path.join(tdir, 'events'))) {
    events = availableEvents(tdir);
  } else if (!tdir && admin) {
    events = privateTracefsEvents();
  }
  const traced = events?.syscalls.length ?? 0;
  const nsfs = opts.probeKernel ? probeNsfs() : undefined;
  const features: Diagnosis['features'] = {
    tracefs: tdir
      ? { available: 'yes', detail: `mounted at ${tdir}` }
      : admin && events
        ? { available: 'yes', detail: `not mounted; the exporter mounts it at ${paths.sys('kernel/tracing')}` }
        : { available: 'unknown', detail: 'not mounted, and mounting it needs CAP_SYS_ADMIN' },
    syscall_tracepoints: !events
      ? { available: 'unknown', detail: 'tracefs events not readable' }
      : traced > 0
        ? { available: 'yes', detail: `${traced}/${TRACED_SYSCALLS.length} mount-family syscalls traceable` }
        : { available: 'no', detail: 'no syscalls/ events (CONFIG_FTRACE_SYSCALLS off)' },
    lock_contention_tracepoints: !events
      ? { available: 'unknown', detail: 'tracefs events not readable' }
      : events.lockContention
        ? { available: 'yes', detail: 'lock:contention_begin/end' }
        : { available: 'no', detail: 'no lock/contention_* events (kernel < 5.19)' },
    listmount_statmount: opts.probeKernel
      ? probeListmount()
      : { available: 'unknown', detail: 'not probed on a fixture tree' },
    nsfs_mount_info: nsfs?.info ?? { available: 'unknown', detail: 'not probed on a fixture tree' },
    nsfs_namespace_walk: nsfs?.walk ?? { available: 'unknown', detail: 'not probed on a fixture tree' },
    fanotify_mount_events: opts.probeKernel
      ? probeFanotifyMount()
      : { available: 'unknown', detail: 'not probed on a fixture tree' },
  };

  const mi = canRead(mountinfoPath);
  const nsSelf = canRead(paths.proc('self/ns/mnt'));
  const dirs = opts.runtimeDirs.map((d) => ({ ...d, seen: paths.root(d.dir) }));
  const { runtimes, ...containers } = runningImages(dirs, layersAt);
  const unlistable = dirs.find((d) => fs.existsSync(d.seen) && !runtimes.some((r) => r.dir === d.dir));
  // Without a runtime directory, starts come from the kernel's new mount namespaces: the walk
  // (CAP_SYS_ADMIN, 6.12+) or a /proc scan that reads every process's namespace (root).
  const kernelStarts = admin || process.getuid?.() === 0;
  const collectors: Diagnosis['collectors'] = {
    mounts: { works: mi.ok, why: mi.why },
    probes: { works: mi.ok, why: mi.ok ? `${mountinfoPath} readable; stat() of ${paths.proc('sys/fs')}` : mi.why },
    namespaces: {
      works: true,
      why:
        admin || process.getuid?.() === 0
          ? 'root: every /proc/*/ns/mnt is readable'
          : `without CAP_SYS_PTRACE only this user's processes are seen (${nsSelf.why})`,
    },
    cpu: (() => {
      const r = canRead(paths.proc('stat'));
      return { works: r.ok, why: r.why };
    })(),
    host: {
      works: true,
      why:
        host.systemModel === 'unknown'
          ? 'no DMI product name: reported as unknown'
          : `DMI says ${host.systemVendor} ${host.systemModel}`,
    },
    containers: {
      works: runtimes.length > 0,
      why:
        runtimes.length > 0
          ? `watching ${runtimes.map((r) => `${r.dir} (${r.layout})`).join(', ')}`
          : unlistable
            ? `cannot list ${unlistable.seen} (containerd makes its task directory 0711): run as root to see container starts`
            : `no runtime directory (${dirs.map((d) => d.seen).join(', ')}): no data until one appears; ${kernelStarts ? 'starts are counted as new mount namespaces meanwhile' : 'and new mount namespaces cannot be counted without root'}`,
    },
    tracefs: {
      works: admin && features.syscall_tracepoints.available !== 'no',
      why: !admin
        ? 'needs root or CAP_SYS_ADMIN to create a tracefs instance: no data'
        : features.syscall_tracepoints.available === 'no'
          ? features.syscall_tracepoints.detail
          : tdir
            ? `instance under ${tdir}/instances`
            : features.tracefs.detail,
    },
  };

  const nodeMountEvents =
    features.fanotify_mount_events.available === 'yes' && features.nsfs_namespace_walk.available === 'yes' && admin;
  const starts = collectors.containers?.works === true || kernelStarts;
  const page = pageCapability({
    syscalls: collectors.tracefs?.works === true && tracedThroughStorms(opts.tracefsMode, nodeMountEvents, starts),
    nodeMountEvents,
    starts,
    probes: collectors.probes?.works === true,
  });
  const startCost: StartCost = {
    cpus: host.cpus,
    maskedPaths: Math.max(0, ...containers.images.map((i) => i.maskedPaths)),
    perCpuMaskedPaths: Math.max(0, ...containers.images.map((i) => i.perCpuMaskedPaths)),
    deepestLayers: containers.images.reduce<number | undefined>(
      (a, i) => (i.layers === undefined ? a : Math.max(a ?? 0, i.layers)),
      undefined,
    ),
    tableCopied: mountTable.mounts,
  };
  const findings: Finding[] = [];
  if (startCost.maskedPaths > THRESHOLDS.manyMaskedPathsPerStart)
    findings.push({
      risk: riskyTopology(host) ? 'high' : 'medium',
      what: `containers here mask ${startCost.maskedPaths} paths each (${startCost.perCpuMaskedPaths} of them one per CPU of this ${host.cpus}-CPU host): one mount per path at every start`,
      advice:
        'runc 1.5.0 / 1.4.3 / 1.3.6 share one tmpfs among the masks; hold back or filter the kubelet/containerd release that adds per-CPU masks (as CRI-O PR 9661 did); stagger container starts',
    });
  const risky = riskyTopology(host);
  const topoWhat = `${host.sockets} socket${host.sockets === 1 ? '' : 's'}, ${host.numaNodes} NUMA node${host.numaNodes === 1 ? '' : 's'}, SMT ${host.smt ? 'on' : 'off'}`;
  if (risky && deepestOverlay > THRESHOLDS.deepLayers) {
    findings.push({
      risk: 'high',
      what: `deep-layer images (deepest overlay: ${deepestOverlay} layers) on a risky topology (${topoWhat})`,
      advice:
        'use a runtime that idmaps the common parent once (containerd with PR 12092), keep images under 10 layers, stagger container starts, or prefer single-socket instance types / SMT off',
    });
  } else if (risky) {
    findings.push({
      risk: 'medium',
      what: `topology where global-lock cache lines bounce: ${topoWhat}`,
      advice: 'keep frequently launched images under 10 layers; mount storms hurt most here',
    });
  } else if (deepestOverlay > THRESHOLDS.deepLayers) {
    findings.push({
      risk: 'medium',
      what: `deep-layer images (deepest overlay: ${deepestOverlay} layers)`,
      advice: 'fewer layers, or a runtime that mounts a common parent once',
    });
  }
  if (mountTable.utilisation !== undefined && mountTable.utilisation > THRESHOLDS.tableNearMaxRatio) {
    findings.push({
      risk: 'high',
      what: `mount table at ${(mountTable.utilisation * 100).toFixed(0)} % of fs.mount-max (${mountTable.mounts}/${mountTable.mountMax})`,
      advice: 'find leaked mounts (see alerts/runbooks/MountTableRunawayGrowth.md) or raise fs.mount-max',
    });
  } else if (mountTable.mounts !== undefined && mountTable.mounts > 10_000) {
    findings.push({
      risk: 'medium',
      what: `large mount table (${mountTable.mounts} entries): every mountinfo reader and namespace copy pays for it`,
      advice: 'check for leaked mounts',
    });
  }
  if (mountTable.idmapped > 0 && deepestOverlay > THRESHOLDS.deepLayers) {
    findings.push({
      risk: 'medium',
      what: `${mountTable.idmapped} idmapped mounts with deep overlays: the per-layer idmap pattern`,
      advice: 'upgrade the runtime to one that idmaps once per overlay',
    });
  }
  if (mountTable.error)
    findings.push({
      risk: 'medium',
      what: `cannot read the mount table: ${mountTable.error}`,
      advice: 'run as root, or with hostPID and CAP_SYS_PTRACE in a container',
    });
  if (!collectors.tracefs?.works)
    findings.push({
      risk: 'low',
      what: 'the tracefs collector will have no data',
      advice: collectors.tracefs?.why ?? '',
    });
  if (!page.capable)
    findings.push({
      risk: 'low',
      what: 'the storm page (MountStormImminent) cannot fire here',
      advice: page.blockers.map((b) => b.why).join('; '),
    });
  const rank: Record<Risk, number> = { low: 0, medium: 1, high: 2 };
  const risk = findings.reduce<Risk>((r, f) => (rank[f.risk] > rank[r] ? f.risk : r), 'low');
  return {
    host,
    mountTable,
    layerDepth,
    deepestOverlay,
    features,
    collectors,
    page,
    containers,
    runtimes,
    startCost,
    findings,
    risk,
  };
}
