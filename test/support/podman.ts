/**
 * Debian's podman on a private "node": a mount namespace of its own in which podman's state
 * (containers/storage's graph root and run root, libpod's own) is on fresh tmpfs, at podman's
 * default paths, so an exporter run in the same namespace finds them without configuration and
 * nothing reaches the host's table or storage. Containers run with --network=none (no bridge, no
 * firewall rules on the host), cgroupfs and a file event log: what this machine's hybrid cgroup
 * layout and the lack of systemd in tests allow. crun refuses a hybrid layout whose cgroup2 holds
 * controllers (this machine's holds hugetlb: "cgroups in hybrid mode not supported"), so the node
 * unmounts cgroup2 in its own namespace where it does: runc and crun both see cgroup v1 there.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** podman's state, each on a tmpfs of the node's own. */
const STATE_DIRS = ['/var/lib/containers', '/run/containers', '/run/libpod'];

export interface PodmanNode {
  /** A process in the node's mount namespace (nsenter -t). */
  pid: number;
  /** Runs podman in the node's namespace with the flags this machine needs; its stdout. */
  podman(args: string[], runtime?: 'runc' | 'crun'): Promise<string>;
  /** Loads an image archive (buildImage's) into the node's store under `name`. */
  load(archive: string, name: string): Promise<void>;
  stop(): Promise<void>;
}

/** The flags every container this machine can run needs: no network, explicit limits (rootful podman's defaults exceed the test's). */
export const RUN_FLAGS = ['--network=none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

export async function startPodmanNode(): Promise<PodmanNode> {
  const state = STATE_DIRS.map((d) => `mkdir -p ${d} && mount -t tmpfs -o mode=0711 tmpfs ${d}`).join(' && ');
  const v1Only = 'if grep -qs . /sys/fs/cgroup/unified/cgroup.controllers; then umount /sys/fs/cgroup/unified; fi';
  const script = `${state} && ${v1Only} && echo ready && exec sleep infinity`;
  const holder: ChildProcess = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', '--fork', '--kill-child', 'sh', '-ec', script],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    holder.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    holder.on('exit', (code) => reject(new Error(`the podman node's namespace did not start (${code})`)));
  });
  const kids = fs.readFileSync(`/proc/${holder.pid}/task/${holder.pid}/children`, 'utf8').trim().split(/\s+/);
  const pid = Number(kids[0]);
  const podman = async (args: string[], runtime: 'runc' | 'crun' = 'runc') =>
    (
      await exec(
        'nsenter',
        [
          '-t',
          String(pid),
          '-m',
          '--',
          'podman',
          '--cgroup-manager=cgroupfs',
          '--events-backend=file',
          `--runtime=${runtime}`,
          ...args,
        ],
        { maxBuffer: 16 << 20 },
      )
    ).stdout;
  return {
    pid,
    podman,
    async load(archive, name) {
      const loaded = await podman(['load', '--quiet', '--input', archive]);
      const id = /sha256:([0-9a-f]{64})/.exec(loaded)?.[1] ?? loaded.trim().split(/\s+/).pop();
      if (!id) throw new Error(`podman load told no image id: ${loaded}`);
      await podman(['tag', id, name]);
    },
    async stop() {
      try {
        // Removal can race conmon's own cleanup of a container's shm mount (EBUSY): tried again.
        for (let i = 0; ; i++) {
          try {
            await podman(['rm', '--all', '--force', '--time=0']);
            break;
          } catch (err) {
            if (i >= 4) throw err;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      } finally {
        const exited = new Promise((r) => holder.once('exit', r));
        process.kill(pid, 'SIGKILL');
        await exited;
      }
    },
  };
}
