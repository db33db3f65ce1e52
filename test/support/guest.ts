/**
 * Debian's own kernels, booted under qemu-system-x86 (TCG: no KVM here) with an initramfs built from
 * this machine's Node and this build: the host side of the guest tier (test/guest/). The guest runs
 * test/support/guest-scenarios.ts as root on its kernel and writes its findings, one JSON object per
 * line, to its second serial port, which lands in a file here. The kernels come from
 * scripts/fetch-kernels.sh (setup-test.sh runs it): $MOUNTSTORM_KERNELS/<release>/{vmlinuz,overlay.ko,loop.ko}.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ARTIFACTS, REPO } from './env';

export const KERNELS_DIR = process.env.MOUNTSTORM_KERNELS ?? '/var/cache/mountstorm/kernels';

export interface GuestKernel {
  /** `uname -r` of the kernel, e.g. 6.1.0-57-cloud-amd64. */
  release: string;
  /** Its major.minor, e.g. 6.1. */
  series: string;
  dir: string;
}

/** The kernels fetched, by series ("6.1", "6.12"). */
export function guestKernels(): Map<string, GuestKernel> {
  const found = new Map<string, GuestKernel>();
  let names: string[];
  try {
    names = fs.readdirSync(KERNELS_DIR);
  } catch {
    return found;
  }
  // Several releases of a series (a security update fetched beside the old one): the newest wins.
  for (const release of names.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))) {
    const dir = path.join(KERNELS_DIR, release);
    const series = /^(\d+\.\d+)/.exec(release)?.[1];
    if (series && fs.existsSync(path.join(dir, 'vmlinuz'))) found.set(series, { release, series, dir });
  }
  return found;
}

/** The files an initramfs holds: destination path in the guest → source here (or content). */
type Entry = { from: string } | { text: string; mode: number };

/** A file and the shared libraries it loads (ldd), at the same paths in the guest. */
function withLibraries(binary: string, into: Map<string, Entry>): void {
  into.set(binary, { from: binary });
  const ldd = execFileSync('ldd', [binary], { encoding: 'utf8' });
  for (const m of ldd.matchAll(/(\/\S+) \(0x/g)) into.set(m[1] as string, { from: fs.realpathSync(m[1] as string) });
  for (const m of ldd.matchAll(/=> (\/\S+) \(0x/g)) into.set(m[1] as string, { from: fs.realpathSync(m[1] as string) });
}

/** The production dependencies' folders (npm ls --omit=dev), as the image ships them. */
function productionModules(): string[] {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: REPO, encoding: 'utf8' });
  return out
    .split('\n')
    .filter((p) => p.startsWith(path.join(REPO, 'node_modules') + path.sep))
    .map((p) => path.relative(REPO, p));
}

const APP = '/opt/mountstorm';

/**
 * The guest's /init: mounts what a node has, loads the kernel's overlay and loop modules, mounts an
 * ext4 /var/tmp, brings up loopback, runs the scenarios with their findings on the second serial
 * port, and powers off.
 */
function initScript(args: string[]): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
hostname mountstorm-guest
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
insmod /lib/modules/overlay.ko
insmod /lib/modules/loop.ko
# /var/tmp on ext4, as on a node's disk: where the drill's idmapped layers go when tmpfs cannot be
# idmapped (before Linux 6.3).
mount -o loop -t ext4 /var/tmp.ext4 /var/tmp
ip link set lo up
cd ${APP}
export HOME=/root PATH=/usr/bin:/bin
node dist/test/support/guest-scenarios.js ${args.map((a) => `'${a}'`).join(' ')} >/dev/ttyS1
echo "guest-scenarios exited $?" >/dev/ttyS1
poweroff -f
`;
}

/**
 * Builds the initramfs for `kernel` (newc cpio, uncompressed: TCG unpacks it faster so) at `out`;
 * `extra` adds files: path in the guest → file here.
 */
export function buildInitramfs(
  kernel: GuestKernel,
  out: string,
  args: string[],
  extra: Record<string, string> = {},
): void {
  const files = new Map<string, Entry>();
  for (const [dest, from] of Object.entries(extra)) files.set(dest, { from });
  files.set('/bin/busybox', { from: '/bin/busybox' });
  withLibraries(process.execPath, files);
  // util-linux's, as on a node (the drill runs `unshare --kill-child`, which busybox's lacks).
  for (const tool of ['/usr/bin/unshare', '/usr/bin/nsenter']) withLibraries(tool, files);
  files.set('/usr/bin/node', { from: fs.realpathSync(process.execPath) });
  files.set('/lib/modules/overlay.ko', { from: path.join(kernel.dir, 'overlay.ko') });
  files.set('/lib/modules/loop.ko', { from: path.join(kernel.dir, 'loop.ko') });
  files.set('/init', { text: initScript(args), mode: 0o755 });
  files.set('/etc/passwd', {
    text: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
    mode: 0o644,
  });
  files.set('/etc/group', { text: 'root:x:0:\nnogroup:x:65534:\n', mode: 0o644 });
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-initramfs-'));
  try {
    for (const [dest, e] of files) {
      const to = path.join(stage, dest);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      if ('from' in e) fs.copyFileSync(e.from, to);
      else fs.writeFileSync(to, e.text, { mode: e.mode });
      if ('from' in e) fs.chmodSync(to, fs.statSync(e.from).mode & 0o777);
    }
    for (const d of ['proc', 'sys', 'dev', 'tmp', 'run', 'root', 'var/tmp'])
      fs.mkdirSync(path.join(stage, d), { recursive: true });
    execFileSync('mkfs.ext4', ['-q', '-F', '-E', 'root_owner=0:0', path.join(stage, 'var/tmp.ext4'), '16M']);
    fs.chmodSync(path.join(stage, 'var/tmp'), 0o1777);
    const app = path.join(stage, APP);
    fs.mkdirSync(app, { recursive: true });
    for (const f of ['package.json', 'jest.config.js']) fs.copyFileSync(path.join(REPO, f), path.join(app, f));
    fs.cpSync(path.join(REPO, 'dist'), path.join(app, 'dist'), { recursive: true });
    for (const m of productionModules())
      fs.cpSync(path.join(REPO, m), path.join(app, m), { recursive: true, dereference: true });
    execFileSync('sh', ['-c', `find . | busybox cpio -o -H newc -R 0:0 > "$0" 2>/dev/null`, out], { cwd: stage });
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

export interface GuestRun {
  /** Every JSON line the guest wrote to its report port, in order. */
  lines: Array<Record<string, unknown>>;
  /** The guest's console (kernel messages, the scenarios' stderr). */
  console: string;
  /** The exit status guest-scenarios.js reported, or undefined when the guest never said. */
  status: number | undefined;
}

/**
 * Boots `kernel` with the scenarios' arguments under TCG (2 vCPUs, 2 GiB) and waits for the guest to
 * power off (or `timeoutMs`); its console and report are kept in test-artifacts/guest-<release>.*.
 */
export async function bootGuest(
  kernel: GuestKernel,
  args: string[],
  timeoutMs: number,
  extra: Record<string, string> = {},
): Promise<GuestRun> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const base = path.join(ARTIFACTS, `guest-${kernel.release}`);
  const initrd = `${base}.initramfs`;
  buildInitramfs(kernel, initrd, args, extra);
  const report = `${base}.report.jsonl`;
  const consoleLog = `${base}.console.log`;
  for (const f of [report, consoleLog]) fs.rmSync(f, { force: true });
  // -cpu max: the newest features TCG emulates, less cx16. qemu 7.2's TCG mis-emulates
  // cmpxchg16b with a %gs prefix, which 6.12's SLUB fast path runs on every allocation: one boot in
  // four double-faulted in it (EFLAGS garbage after the instruction). Without cx16 the kernel takes
  // its locked path: 10 boots of 10. thread=single: both vCPUs on one host thread, taking turns.
  // With a thread each (MTTCG) a vCPU can still run code the other has just patched (the kernel
  // flips static keys with int3 when tracing is armed or disarmed): 6.12 died of a stray int3 in
  // syscall_exit_to_user_mode_prepare after some twenty arm/disarm cycles.
  const qemu = spawn(
    'qemu-system-x86_64',
    [
      '-M',
      'pc',
      '-accel',
      'tcg,thread=single',
      '-cpu',
      'max,cx16=off',
      '-smp',
      '2',
      '-m',
      '2048',
      '-nographic',
      '-no-reboot',
      '-monitor',
      'none',
      '-display',
      'none',
      '-nic',
      'none',
      '-kernel',
      path.join(kernel.dir, 'vmlinuz'),
      '-initrd',
      initrd,
      '-append',
      'console=ttyS0 panic=-1 quiet',
      '-serial',
      `file:${consoleLog}`,
      '-serial',
      `file:${report}`,
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => qemu.on('exit', () => resolve()));
  const timer = setTimeout(() => qemu.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
  fs.rmSync(initrd, { force: true });
  const text = fs.existsSync(report) ? fs.readFileSync(report, 'utf8') : '';
  const lines: Array<Record<string, unknown>> = [];
  let status: number | undefined;
  for (const l of text.split('\n')) {
    const exit = /^guest-scenarios exited (\d+)/.exec(l);
    if (exit) status = Number(exit[1]);
    else if (l.startsWith('{')) lines.push(JSON.parse(l) as Record<string, unknown>);
  }
  return { lines, console: fs.existsSync(consoleLog) ? fs.readFileSync(consoleLog, 'utf8') : '', status };
}
