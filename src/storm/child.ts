/**
 * The storm's own process, started by `mountstorm storm` through
 * `unshare --mount --propagation private --fork --kill-child`: every mount it makes lives in this
 * private namespace on its own tmpfs and vanishes with it, whatever kills it. It exits as soon as
 * its parent goes away (stdin closes), so it never outlives the command either.
 * Speaks JSON lines on stdout: {type:"start"|"progress"|"result"|"error", …}.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  MS_BIND,
  MS_PRIVATE,
  MS_REC,
  close,
  mount,
  mountSetattrIdmap,
  openTreeClone,
  umount2,
  MNT_DETACH,
} from '../kernel/mount';
import { FS_NAMES, fsType } from '../kernel/magic';
import { BUNDLE_NAMESPACE, maskedPaths, SYSCALLS, usesIdmap, type Mode, type Syscall } from './plan';
import { percentiles } from './stats';
import { userNamespace } from './userns';
import type { WorkerInput, WorkerResult } from './worker';
import type { StormReport } from './report';

export interface ChildOptions {
  mode: Mode;
  containers: number;
  layers: number;
  /** per-cpu-masks: the CPUs whose thermal_throttle directories each container masks. */
  cpus: number;
  /** namespace-copy: the mounts in the table every new namespace copies. */
  table: number;
  concurrency: number;
  durationMs: number;
  holdMs: number;
  /** Starts per second across all threads; 0: unpaced. */
  rate: number;
  /** Where each container's bundle goes while it runs, as a runtime's task directory. */
  taskDir?: string;
  image?: string;
  /**
   * Where the idmap modes' image layers go when this kernel's tmpfs cannot be idmapped (before Linux
   * 6.3): a directory made under it (on the host's file system, which must allow idmapped mounts:
   * ext4, xfs, btrfs from 5.12), bind-mounted in the storm's namespace and removed when it ends.
   */
  scratchDir: string;
  /** The command's own mount namespace: the child refuses to mount if it is still in it. */
  parentMountNs: string;
}

/** The layers' directory on the host's file system, while the drill uses one (removed on every exit). */
let scratch: string | undefined;

function removeScratch(): void {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

function emit(msg: object): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

function fail(code: string, message: string): never {
  try {
    removeScratch();
  } catch {
    // the error below matters more
  }
  emit({ type: 'error', code, message });
  process.exit(3);
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
  // The parent is gone: stop at once; the namespace and its mounts go with us, and the (host-side,
  // empty) directory the tmpfs sat on is removed here, since the parent cannot any more.
  let root: string | undefined;
  let workers: Worker[] = [];
  let counters: Int32Array | undefined;
  let orphan = false;
  const orphaned = () => {
    if (orphan) return;
    orphan = true;
    // Stop the workers before detaching the tmpfs: a worker still running after the detach would
    // create its container directories on the host's /tmp, under the path the tmpfs covered.
    if (counters) Atomics.store(counters, 2, 2);
    const stopped = Promise.all(workers.map((w) => w.terminate()));
    const timeout = new Promise((r) => setTimeout(r, 2000));
    void Promise.race([stopped, timeout]).finally(async () => {
      if (root) {
        try {
          umount2(root, MNT_DETACH);
        } catch {
          // best effort: the mounts vanish with the namespace regardless
        }
        // A worker that outlived the 2 s (a loaded host) may still be making its directories on
        // the host's /tmp under root: remove again until it stays gone, a few times.
        for (let i = 0; i < 5 && fs.existsSync(root); i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, 100));
          try {
            fs.rmSync(root, { recursive: true, force: true, maxRetries: 3, retryDelay: 20 });
          } catch {
            // removed on the next round
          }
        }
      }
      try {
        removeScratch();
      } catch {
        // best effort, as above
      }
      process.exit(4);
    });
  };
  process.stdin.on('end', orphaned);
  process.stdin.on('close', orphaned);
  process.stdin.resume();

  // Never in the command's (the host's) namespace: checked before any mount, even the one below.
  if (fs.readlinkSync('/proc/self/ns/mnt') === opts.parentMountNs)
    fail('E_NAMESPACE', 'refusing to mount: not in a private mount namespace');
  // Belt and braces: even if unshare's --propagation was ignored, nothing we mount may reach the host.
  mount('none', '/', null, MS_REC | MS_PRIVATE);
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-storm-'));
  mount('mountstorm-storm', root, 'tmpfs', 0, 'mode=0700');
  emit({ type: 'start', root, pid: process.pid });
  // The idmap modes idmap the layers' directory: on the storm's tmpfs where the kernel allows it
  // (Linux 6.3+), else on a directory of the host's file system (--scratch-dir) bound over it.
  fs.mkdirSync(`${root}/l`);
  let userns = { fd: -1, done: () => undefined as void };
  let layerStore = 'tmpfs';
  if (usesIdmap(opts.mode)) {
    try {
      userns = await userNamespace();
    } catch (err) {
      fail('E_IDMAP', `no user namespace to idmap with (${(err as Error).message})`);
    }
    const onTmpfs = idmapError(`${root}/l`, userns.fd);
    if (onTmpfs) {
      try {
        scratch = fs.mkdtempSync(path.join(opts.scratchDir, 'mountstorm-layers-'));
        mount(scratch, `${root}/l`, null, MS_BIND);
      } catch (err) {
        fail(
          'E_IDMAP',
          `idmapped mounts do not work on tmpfs here (${onTmpfs}; tmpfs has them from Linux 6.3), and no directory for the layers could be made under --scratch-dir=${opts.scratchDir} (${(err as Error).message})`,
        );
      }
      const fsName = FS_NAMES[fsType(scratch) ?? 0] ?? 'its file system';
      const onScratch = idmapError(`${root}/l`, userns.fd);
      if (onScratch)
        fail(
          'E_IDMAP',
          `idmapped mounts do not work here: not on tmpfs (${onTmpfs}; Linux 6.3+) nor on ${opts.scratchDir}, ${fsName} (${onScratch}); give --scratch-dir a directory on ext4, xfs or btrfs (Linux 5.12+), or use --mode bind-per-layer, which makes the same mounts without idmapping`,
        );
      layerStore = `${scratch} (${fsName})`;
      emit({
        type: 'notice',
        message: `tmpfs takes no idmapped mounts on this kernel (they need Linux 6.3): the image layers are in ${layerStore}, removed when the drill ends`,
      });
    }
  }
  for (let i = 0; i < opts.layers; i++) {
    fs.mkdirSync(`${root}/l/${i}`, { recursive: true });
    fs.writeFileSync(`${root}/l/${i}/layer-${i}`, `layer ${i}\n`);
  }
  // The directories a per-cpu-masks container masks, in its image's first layer.
  const masks = opts.mode === 'per-cpu-masks' ? maskedPaths(opts.cpus) : [];
  for (const m of masks) fs.mkdirSync(`${root}/l/0${m}`, { recursive: true });
  // The table a namespace-copy container's new namespace copies: --table bind mounts, made once.
  if (opts.mode === 'namespace-copy')
    for (let i = 0; i < opts.table; i++) {
      fs.mkdirSync(`${root}/t/${i}`, { recursive: true });
      mount(`${root}/l`, `${root}/t/${i}`, null, MS_BIND);
    }

  const shared = new SharedArrayBuffer(16);
  // When the storm began (Unix ms), for pacing: container c starts c / rate seconds after it.
  const clock = new SharedArrayBuffer(8);
  if (opts.taskDir) fs.mkdirSync(path.join(opts.taskDir, BUNDLE_NAMESPACE), { recursive: true });
  const shm = new Int32Array(shared);
  counters = shm;
  process.on('SIGTERM', () => Atomics.store(shm, 2, 2));
  process.on('SIGINT', () => Atomics.store(shm, 2, 2));
  const input: Omit<WorkerInput, 'shared'> = {
    root,
    mode: opts.mode,
    layers: opts.layers,
    masks,
    usernsFd: userns.fd,
    holdMs: opts.holdMs,
    rate: opts.rate,
    taskDir: opts.taskDir,
    image:
      opts.image ??
      (opts.mode === 'per-cpu-masks'
        ? `drill/per-cpu-masks-${opts.cpus}-cpus:latest`
        : `drill/${opts.mode}-${opts.layers}-layers:latest`),
    clock,
    total: opts.durationMs > 0 ? 0 : opts.containers,
  };
  workers = Array.from(
    { length: opts.concurrency },
    () => new Worker(path.join(__dirname, 'worker.js'), { workerData: { ...input, shared } }),
  );
  const results = workers.map(
    (w) =>
      new Promise<WorkerResult>((resolve, reject) => {
        w.on(
          'message',
          (m: { type: string; result?: WorkerResult }) => m.type === 'result' && resolve(m.result as WorkerResult),
        );
        w.once('error', reject);
      }),
  );
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const start = process.hrtime.bigint();
  new Float64Array(clock)[0] = Date.now();
  // A sustained storm ends when its duration is up: no new containers, held ones finish their hold.
  const stopAt =
    opts.durationMs > 0 ? setTimeout(() => Atomics.compareExchange(shm, 2, 0, 1), opts.durationMs) : undefined;
  Atomics.store(shm, 3, 1);
  Atomics.notify(shm, 3);
  const progress = setInterval(() => {
    const done = Atomics.load(shm, 1);
    const now = process.hrtime.bigint();
    emit({ type: 'progress', done, elapsed: Number(now - start) / 1e9, monotonic: Number(now) / 1e9 });
  }, 200);
  const all = await Promise.all(results);
  clearTimeout(stopAt);
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  clearInterval(progress);
  userns.done();
  try {
    umount2(root, MNT_DETACH);
    fs.rmdirSync(root);
  } catch {
    // The namespace goes with this process anyway.
  }
  removeScratch();
  const error = all.find((r) => r.error)?.error;
  if (error) fail('E_SYSCALL', error);

  const syscalls = Object.fromEntries(SYSCALLS.map((s) => [s, all.reduce((a, r) => a + r.syscalls[s], 0)])) as Record<
    Syscall,
    number
  >;
  const latency = Object.fromEntries(
    SYSCALLS.filter((s) => syscalls[s] > 0).map((s) => [
      s,
      percentiles(
        all.flatMap((r) => r.latency[s].values),
        syscalls[s],
      ),
    ]),
  ) as StormReport['latency'];
  const operations = all.reduce((a, r) => a + r.operations, 0);
  const containers = all.reduce((a, r) => a + r.containers, 0);
  const report: StormReport = {
    mode: opts.mode,
    layers: opts.layers,
    layerStore,
    ...(opts.mode === 'per-cpu-masks' ? { maskedPaths: maskedPaths(opts.cpus).length, cpus: opts.cpus } : {}),
    ...(opts.mode === 'namespace-copy' ? { table: opts.table } : {}),
    concurrency: opts.concurrency,
    containers,
    operations,
    teardownUmounts: all.reduce((a, r) => a + r.teardownUmounts, 0),
    syscalls,
    wallSeconds: wall,
    operationsPerSecond: operations / wall,
    latency,
    containerStart: percentiles(all.flatMap((r) => r.startSeconds)),
  };
  emit({ type: 'result', report });
  process.exit(0);
}

/** Why an idmapped clone of `dir` cannot be made with the user namespace `usernsFd`; undefined when it can. */
function idmapError(dir: string, usernsFd: number): string | undefined {
  let fd: number;
  try {
    fd = openTreeClone(dir);
  } catch (err) {
    return (err as Error).message;
  }
  try {
    mountSetattrIdmap(fd, usernsFd);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    close(fd);
  }
}

main().catch((err: unknown) => fail('E_STORM', err instanceof Error ? err.message : String(err)));
