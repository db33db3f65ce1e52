/**
 * Debian's podman on a private "node": a mount namespace of its own in which podman's state
 * (containers/storage's graph root and run root, libpod's own) is on fresh tmpfs, at podman's
 * default paths, so an exporter run in the same namespace finds them without configuration and
 * nothing reaches the host's table or storage. Containers run with --network=none (no bridge, no
 * firewall rules on the host), cgroupfs and a file event log: what this machine's hybrid cgroup
 * layout and the lack of systemd in tests allow.
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
  stop(): Promise<void>;
}

/** The flags every container this machine can run needs: no network, explicit limits (rootful podman's defaults exceed the test's). */
export const RUN_FLAGS = ['--network=none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

export async function startPodmanNode(): Promise<PodmanNode> {
  const script = `${STATE_DIRS.map((d) => `mkdir -p ${d} && mount -t tmpfs -o mode=0711 tmpfs ${d}`).join(' && ')} && echo ready && exec sleep infinity`;
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
