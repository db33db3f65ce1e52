/**
 * Debian's real containerd and runc for tests, with nothing of the host's touched: containerd runs
 * in a mount namespace and a PID namespace of its own (`unshare -m -p --mount-proc`), with its own
 * root, state directory and socket under a temporary directory, a tmpfs on /run for runc's and
 * the shims' state, the client's FIFOs in the temporary directory too, the CRI plugin off (no CNI here).
 * Its shims and containers live in that PID namespace, so they all die with containerd, and the
 * namespace dies with the test process too (--kill-child, and setpriv's parent-death signal), so a
 * SIGKILLed test leaves nothing behind but its temporary directory. Images are built locally (no
 * registry): a static busybox base layer from Debian's busybox-static, one small file per further
 * layer, an OCI archive imported with `ctr images import`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startExporter, type RunningExporter } from './exporter';
import { sum } from './metrics';

export interface RunningContainerd {
  dir: string;
  socket: string;
  /** containerd's task directory: the bundles, as the exporter's --collector.containers.task-dir watches them. */
  taskDir: string;
  ctr(args: string[], timeoutMs?: number): Promise<string>;
  logs(): string;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

/** containerd's own host PID, for the containerd running out of `dir`. */
export function containerdPid(dir: string): string | undefined {
  return processesUsing(dir).find((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('containerd\0'));
}

/** Processes whose command line names `dir` (containerd, its shims): host PIDs. */
export function processesUsing(dir: string): string[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    });
}

/**
 * `cri`: with containerd's CRI plugin on (kubelet's API, on the same socket), its pod sandboxes on
 * `sandboxImage` (imported into k8s.io by the caller) and no CNI (pods on the host's network).
 */
export async function startContainerd(
  dir: string,
  opts: { cri?: { sandboxImage: string }; hostPid?: boolean } = {},
): Promise<RunningContainerd> {
  // A user-namespaced container's root (uid 100000 here) must get through to its rootfs under the state directory.
  fs.chmodSync(dir, 0o755);
  const socket = path.join(dir, 'containerd.sock');
  const config = path.join(dir, 'config.toml');
  fs.writeFileSync(
    config,
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      ...(opts.cri ? [] : ['disabled_plugins = ["io.containerd.grpc.v1.cri"]']),
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      ...(opts.cri
        ? [
            '[plugins."io.containerd.grpc.v1.cri"]',
            `  sandbox_image = "${opts.cri.sandboxImage}"`,
            '  stream_server_address = "127.0.0.1"',
            '  stream_server_port = "0"',
            // Lowering a process's oom_score_adj (the sandbox's -998) needs CAP_SYS_RESOURCE, which this machine's root lacks.
            '  restrict_oom_score_adj = true',
            '[plugins."io.containerd.grpc.v1.cri".cni]',
            `  bin_dir = "${dir}/cni/bin"`,
            `  conf_dir = "${dir}/cni/conf"`,
            '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
            '  runtime_type = "io.containerd.runc.v2"',
          ]
        : []),
      '',
    ].join('\n'),
  );
  let log = '';
  // runc and the shims keep their state and sockets under /run/containerd: a tmpfs on /run in
  // containerd's own namespace keeps them off the host's /run (and gone with the namespace).
  // hostPid: containerd (and so a pod's hostPID) in the host's PID namespace, where a DaemonSet's
  // exporter runs: the namespace walk needs the initial one. Its shims then outlive a killed test.
  const pid = opts.hostPid ? [] : ['--pid', '--mount-proc'];
  const proc: ChildProcess = spawn(
    'setpriv',
    [
      '--pdeathsig',
      'KILL',
      'unshare',
      '--mount',
      ...pid,
      '--fork',
      '--kill-child',
      '--propagation',
      'private',
      'sh',
      '-ec',
      'mount -t tmpfs mountstorm-run /run && exec containerd --config "$0"',
      config,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  fs.mkdirSync(path.join(dir, 'fifo'));
  // `ctr run` makes its IO FIFOs where --fifo-dir says (else under the host's /run/containerd).
  const ctr = (args: string[], timeoutMs?: number) =>
    run(
      'ctr',
      [
        '--address',
        socket,
        ...args.flatMap((a, i) => (a === 'run' && i <= 2 ? ['run', '--fifo-dir', path.join(dir, 'fifo')] : [a])),
      ],
      timeoutMs,
    );
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`containerd exited:\n${log}`);
    if (
      fs.existsSync(socket) &&
      (await ctr(['version']).then(
        () => true,
        () => false,
      ))
    )
      break;
    if (i > 300) throw new Error(`containerd never answered on ${socket}:\n${log.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dir,
    socket,
    taskDir: path.join(dir, 'state/io.containerd.runtime.v2.task'),
    ctr,
    logs: () => log,
    async stop() {
      // unshare --fork waits on its child without passing signals on: stop containerd itself. Its PID
      // namespace dies with it and takes the shims and containers along; unshare then exits.
      const own = containerdPid(dir);
      if (own) process.kill(Number(own), 'SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000); // --kill-child: containerd goes with it
      await exited;
      clearTimeout(t);
      // In the host's PID namespace the shims outlive containerd: end them (their containers were stopped).
      if (opts.hostPid) {
        for (const p of processesUsing(dir)) {
          try {
            process.kill(Number(p), 'SIGKILL');
          } catch {
            /* gone already */
          }
        }
      }
      for (let i = 0; i < 100 && processesUsing(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    },
  };
}

/**
 * An OCI image archive of `layers` layers: busybox (static) with sh, true and an /etc/group in the
 * first, `/layers/<i>` in each further one. Uncompressed layers; the name in the index's
 * io.containerd.image.name annotation, which `ctr images import` takes.
 */
export async function buildImage(
  archive: string,
  layers: number,
  name: string,
  cmd: string[] = ['/bin/true'],
  /** Directories made in the first layer too (paths a container's spec masks, …). */
  dirs: readonly string[] = [],
): Promise<void> {
  const work = fs.mkdtempSync(path.join(path.dirname(archive), 'image-'));
  try {
    const blobs = path.join(work, 'blobs/sha256');
    fs.mkdirSync(blobs, { recursive: true });
    const put = (file: string) => {
      const data = fs.readFileSync(file);
      const digest = createHash('sha256').update(data).digest('hex');
      fs.renameSync(file, path.join(blobs, digest));
      return { digest: `sha256:${digest}`, size: data.length };
    };
    const layer = async (fill: (root: string) => void) => {
      const root = fs.mkdtempSync(path.join(work, 'layer-'));
      fill(root);
      const tar = `${root}.tar`;
      await run('tar', [
        '--sort=name',
        '--mtime=@0',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '-C',
        root,
        '-cf',
        tar,
        '.',
      ]);
      fs.rmSync(root, { recursive: true });
      return put(tar);
    };
    const descs = [
      await layer((r) => {
        fs.mkdirSync(path.join(r, 'bin'));
        fs.mkdirSync(path.join(r, 'etc'));
        fs.copyFileSync('/bin/busybox', path.join(r, 'bin/busybox'));
        fs.chmodSync(path.join(r, 'bin/busybox'), 0o755);
        for (const l of ['sh', 'true', 'sleep', 'ls', 'cat']) fs.symlinkSync('busybox', path.join(r, 'bin', l));
        fs.writeFileSync(path.join(r, 'etc/group'), 'root:x:0:\n');
        fs.writeFileSync(path.join(r, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
        for (const d of dirs) fs.mkdirSync(path.join(r, d), { recursive: true });
      }),
    ];
    for (let i = 1; i < layers; i++) {
      descs.push(
        await layer((r) => {
          fs.mkdirSync(path.join(r, 'layers'));
          fs.writeFileSync(path.join(r, 'layers', String(i)), `${i}\n`);
        }),
      );
    }
    const json = (v: unknown) => {
      const f = path.join(work, 'blob.json');
      fs.writeFileSync(f, JSON.stringify(v));
      return put(f);
    };
    const config = json({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: cmd },
      rootfs: { type: 'layers', diff_ids: descs.map((d) => d.digest) },
    });
    const manifest = json({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: descs.map((d) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...d })),
    });
    fs.writeFileSync(
      path.join(work, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            ...manifest,
            annotations: { 'io.containerd.image.name': name },
          },
        ],
      }),
    );
    fs.writeFileSync(path.join(work, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await run('tar', ['-C', work, '-cf', archive, 'oci-layout', 'index.json', 'blobs']);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The exporter watching containerd's task directory and mount namespace, once it has the directory in its watch. */
export async function exporterOn(ctd: RunningContainerd, dir: string, extra: string[] = []): Promise<RunningExporter> {
  // containerd makes its task directory as its runtime plugin loads; the exporter watches it before the first start.
  fs.mkdirSync(ctd.taskDir, { recursive: true });
  const pid = containerdPid(dir);
  expect(pid).toBeDefined();
  const exp = await startExporter(
    [
      '--sample.interval=200ms',
      `--mount.pid=${pid}`,
      `--collector.containers.task-dir=${ctd.taskDir}`,
      // Only containerd's: not the host's containers/storage, where one exists.
      `--collector.containers.storage-dir=${ctd.taskDir}/no-storage`,
      '--collector.tracefs.mode=always',
      ...extra,
    ],
    { ownMountNamespace: true },
  );
  for (let i = 0; sum(await exp.waitSamples(1), 'mountstorm_container_task_dirs_watched') !== 1; i++)
    if (i > 50) throw new Error('the task directory was never watched');
  return exp;
}

/** containerd stopped, nothing of it left running, its directory gone. */
export async function stopContainerd(ctd: RunningContainerd, dir: string): Promise<void> {
  await ctd.stop();
  const left = processesUsing(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  expect(left).toEqual([]);
}
