/**
 * One storm thread: takes the next container index from a shared counter and sets it up with real
 * syscalls, timing each one. Runs inside the storm's private mount namespace (see child.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import {
  MNT_DETACH,
  MS_BIND,
  MS_RDONLY,
  close,
  mount,
  mountSetattrIdmap,
  moveMount,
  openTreeClone,
  umount2,
} from '../kernel/mount';
import { BUNDLE_NAMESPACE, ROUNDS, SYSCALLS, type Mode, type Syscall } from './plan';
import { Reservoir } from './stats';

export interface WorkerInput {
  root: string;
  mode: Mode;
  layers: number;
  /** per-cpu-masks: the paths each container masks (absolute, inside its rootfs). */
  masks: string[];
  usernsFd: number;
  holdMs: number;
  rate: number;
  taskDir?: string;
  image: string;
  /** Float64Array view: [0] when the storm began (Unix ms). */
  clock: SharedArrayBuffer;
  /** Containers to start in all (burst), or 0 to run until the stop flag is set. */
  total: number;
  /**
   * Int32Array view: [0] next container, [1] containers done, [2] stop (1: start no more
   * containers, let held ones finish their hold; 2: abort, release everything now), [3] go.
   */
  shared: SharedArrayBuffer;
}

export interface WorkerResult {
  containers: number;
  operations: number;
  teardownUmounts: number;
  syscalls: Record<Syscall, number>;
  latency: Record<Syscall, { values: number[]; seen: number }>;
  startSeconds: number[];
  error?: string;
}

const input = workerData as WorkerInput;
const clock = new Float64Array(input.clock);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const shared = new Int32Array(input.shared);
const lat = Object.fromEntries(SYSCALLS.map((s) => [s, new Reservoir()])) as Record<Syscall, Reservoir>;
const counts = Object.fromEntries(SYSCALLS.map((s) => [s, 0])) as Record<Syscall, number>;
let operations = 0;
let teardown = 0;
const startSeconds: number[] = [];
const held: { at: number; path: string }[] = [];

function timed<T>(name: Syscall, fn: () => T): T {
  const t = process.hrtime.bigint();
  const r = fn();
  lat[name].add(Number(process.hrtime.bigint() - t) / 1e9);
  counts[name]++;
  return r;
}

function idmapAttach(source: string, target: string): void {
  const fd = timed('open_tree', () => openTreeClone(source));
  try {
    timed('mount_setattr', () => mountSetattrIdmap(fd, input.usernsFd));
    timed('move_mount', () => moveMount(fd, target));
  } finally {
    close(fd);
  }
}

function attach(source: string, target: string): void {
  if (input.mode === 'bind-per-layer') timed('mount', () => mount(source, target, null, MS_BIND));
  else idmapAttach(source, target);
  operations++;
}

function detach(target: string): void {
  timed('umount2', () => umount2(target));
  operations++;
}

function teardownUmount(target: string): void {
  timed('umount2', () => umount2(target, MNT_DETACH));
  teardown++;
}

/**
 * A sustained storm (--duration) starts containers without end: their directories go once their
 * mounts are gone, or the storm's tmpfs runs out of inodes (ENOSPC) after some 25,000 containers.
 * A burst keeps them, so its timing has no extra file-system work in it.
 */
function removeDir(dir: string): void {
  if (input.total === 0) fs.rmSync(dir, { recursive: true, force: true });
}

/** Sets up one container: two rounds of layer mounts + overlay; returns the rootfs overlay path. */
/**
 * The container's bundle, as containerd makes it before it mounts the rootfs: a directory named for
 * the container under the namespace, with the OCI config carrying the CRI's annotations. Gone when
 * the container is.
 */
function bundleDir(c: number): string | undefined {
  if (!input.taskDir) return undefined;
  return `${input.taskDir}/${BUNDLE_NAMESPACE}/drill-${process.pid}-${c}`;
}

function makeBundle(c: number): void {
  const dir = bundleDir(c);
  if (!dir) return;
  fs.mkdirSync(dir);
  const config = {
    ociVersion: '1.2.0',
    root: { path: 'rootfs' },
    annotations: {
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.container-name': 'app',
      'io.kubernetes.cri.image-name': input.image,
      'io.kubernetes.cri.sandbox-name': `drill-${c}`,
      'io.kubernetes.cri.sandbox-namespace': BUNDLE_NAMESPACE,
      'io.kubernetes.cri.sandbox-id': `drill-${process.pid}-${c}-sandbox`,
    },
    linux:
      input.mode === 'per-cpu-masks'
        ? { maskedPaths: input.masks }
        : input.mode === 'namespace-copy'
          ? {}
          : {
              uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
              gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
            },
  };
  fs.writeFileSync(`${dir}/config.json`, JSON.stringify(config));
}

function removeBundle(c: number): void {
  const dir = bundleDir(c);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

/** With --rate, waits until container c is due (c / rate seconds after the start); false if told to stop meanwhile. */
function paced(c: number): boolean {
  if (input.rate <= 0) return true;
  const due = (clock[0] as number) + (c * 1000) / input.rate;
  for (;;) {
    if (Atomics.load(shared, 2) !== 0) return false;
    const wait = due - Date.now();
    if (wait <= 0) return true;
    Atomics.wait(sleeper, 0, 0, Math.min(wait, 100));
  }
}

/**
 * A per-cpu-masks container: its rootfs overlay, then a read-only tmpfs on each masked directory,
 * as runc masks one. Its rootfs is at …/c<N>/1/m, as the other modes' (release() detaches it, and
 * the masks with it).
 */
function runMasked(c: number): string {
  const base = `${input.root}/c${c}/1`;
  fs.mkdirSync(`${base}/u`, { recursive: true });
  fs.mkdirSync(`${base}/w`);
  fs.mkdirSync(`${base}/m`);
  const lower = Array.from({ length: input.layers }, (_, i) => `${input.root}/l/${i}`);
  timed('mount', () =>
    mount('overlay', `${base}/m`, 'overlay', 0, `lowerdir=${lower.join(':')},upperdir=${base}/u,workdir=${base}/w`),
  );
  operations++;
  for (const m of input.masks) {
    timed('mount', () => mount('tmpfs', `${base}/m${m}`, 'tmpfs', MS_RDONLY, 'size=0'));
    operations++;
  }
  return `${base}/m`;
}

/** A namespace-copy container: a new mount namespace, copying the drill's table, gone as its process ends. */
function runNamespaceCopy(): void {
  const r = timed('unshare', () =>
    spawnSync('unshare', ['--mount', '--propagation', 'unchanged', 'true'], { stdio: 'ignore' }),
  );
  if (r.status !== 0) throw new Error(`unshare --mount failed: ${r.error?.message ?? `exit ${r.status}`}`);
  operations++;
}

function runContainer(c: number): string {
  if (input.mode === 'per-cpu-masks') return runMasked(c);
  const layerRoot = `${input.root}/l`;
  let rootfs = '';
  for (let r = 0; r < ROUNDS; r++) {
    const base = `${input.root}/c${c}/${r}`;
    fs.mkdirSync(`${base}/u`, { recursive: true });
    fs.mkdirSync(`${base}/w`);
    fs.mkdirSync(`${base}/m`);
    const lower: string[] = [];
    const attached: string[] = [];
    if (input.mode === 'common-parent-idmap') {
      fs.mkdirSync(`${base}/p`);
      attach(layerRoot, `${base}/p`);
      attached.push(`${base}/p`);
      for (let i = 0; i < input.layers; i++) lower.push(`${base}/p/${i}`);
    } else {
      for (let i = 0; i < input.layers; i++) {
        fs.mkdirSync(`${base}/${i}`);
        attach(`${layerRoot}/${i}`, `${base}/${i}`);
        attached.push(`${base}/${i}`);
        lower.push(`${base}/${i}`);
      }
    }
    timed('mount', () =>
      mount('overlay', `${base}/m`, 'overlay', 0, `lowerdir=${lower.join(':')},upperdir=${base}/u,workdir=${base}/w`),
    );
    operations++;
    for (const t of attached) detach(t);
    if (r === 0) {
      teardownUmount(`${base}/m`);
      removeDir(base);
    } else rootfs = `${base}/m`;
  }
  return rootfs;
}

/** Unmounts a container's rootfs overlay (…/c<N>/1/m) and removes the container's directory. */
function release(rootfs: string): void {
  teardownUmount(rootfs);
  removeBundle(Number(/\/c(\d+)\/1\/m$/.exec(rootfs)?.[1]));
  removeDir(rootfs.slice(0, rootfs.lastIndexOf('/', rootfs.lastIndexOf('/') - 1)));
}

function releaseDue(now: number): void {
  while (held.length > 0 && (held[0] as { at: number }).at <= now) release((held.shift() as { path: string }).path);
}

function main(): WorkerResult {
  let containers = 0;
  let error: string | undefined;
  try {
    for (;;) {
      if (Atomics.load(shared, 2) !== 0) break;
      const c = Atomics.add(shared, 0, 1);
      if (input.total > 0 && c >= input.total) break;
      if (!paced(c)) break;
      makeBundle(c);
      const t0 = process.hrtime.bigint();
      if (input.mode === 'namespace-copy') {
        runNamespaceCopy();
        startSeconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
        containers++;
        Atomics.add(shared, 1, 1);
        removeBundle(c);
        continue;
      }
      const rootfs = runContainer(c);
      startSeconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
      containers++;
      Atomics.add(shared, 1, 1);
      if (input.holdMs > 0) held.push({ at: Date.now() + input.holdMs, path: rootfs });
      else release(rootfs);
      releaseDue(Date.now());
    }
    // Containers still held go away when their hold ends (or at once when stopped).
    while (held.length > 0) {
      const abort = Atomics.load(shared, 2) === 2;
      const wait = abort ? 0 : (held[0] as { at: number }).at - Date.now();
      if (wait > 0) Atomics.wait(sleeper, 0, 0, Math.min(wait, 200));
      releaseDue(abort ? Infinity : Date.now());
    }
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    Atomics.store(shared, 2, 2);
  }
  const latency = Object.fromEntries(
    SYSCALLS.map((s) => [s, { values: lat[s].values, seen: lat[s].seen }]),
  ) as WorkerResult['latency'];
  return { containers, operations, teardownUmounts: teardown, syscalls: counts, latency, startSeconds, error };
}

// Start together: the storm's clock starts when every thread is ready, not while threads boot.
parentPort?.postMessage({ type: 'ready' });
Atomics.wait(shared, 3, 0);
parentPort?.postMessage({ type: 'result', result: main() });
