/**
 * What a quiet node gets without reading a mount table or tracing a syscall, against the real
 * kernel: the table's size from NS_MNT_GET_INFO, every mount namespace from the NS_MNT_GET_NEXT walk
 * (one held only by a bind mount included), exact churn from fanotify mount events (mounts made and
 * removed between two samples included), each path's fallback where the kernel refuses it
 * (MOUNTSTORM_KERNEL_REFUSE), and syscall tracing armed only while a storm may be starting.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bufferSizeFor } from '../../src/sources/tracefs/owner';
import { IS_ROOT, REPO, requireInCi, testIf } from '../support/env';
import { inMountNamespace, startExporter, type RunningExporter } from '../support/exporter';
import { has, sum, total, type Sample } from '../support/metrics';

requireInCi(IS_ROOT, 'root for real mounts, fanotify and tracefs');
const rootTest = testIf(IS_ROOT, 'needs root (CAP_SYS_ADMIN) for real mounts, fanotify and tracefs');
const MOUNT_K = path.join(REPO, 'dist/test/support/mount-k.js');
const delta = (a: Sample[], b: Sample[], name: string, labels?: Record<string, string>) =>
  total(b, name, labels) - total(a, name, labels);

/** How long each condition may take: 20 s of samples. */
const T = { timeoutMs: 20_000 };

describe('the watched namespace, without reading its table or tracing', () => {
  let exp: RunningExporter;
  let dir: string;
  beforeAll(async () => {
    if (!IS_ROOT) return;
    dir = fs.mkdtempSync('/tmp/mountstorm-ns-');
    exp = await startExporter(
      [
        '--sample.interval=1s',
        '--no-collector.containers',
        '--no-collector.tracefs',
        '--collector.namespaces.events=watched',
      ],
      { privateNamespaces: true },
    );
    inMountNamespace(exp, `mount -t tmpfs base ${dir}`);
    await exp.waitSamples(2);
  });
  afterAll(async () => {
    if (!IS_ROOT) return;
    await exp.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  rootTest('NS_MNT_GET_INFO: mount_table_entries equals the mountinfo line count, every sample', async () => {
    inMountNamespace(exp, `for i in $(seq 1 30); do mkdir -p ${dir}/e$i; mount -t tmpfs e$i ${dir}/e$i; done`);
    const m = await exp.waitSamples(2);
    const lines = Number(inMountNamespace(exp, 'wc -l < /proc/1/mountinfo').trim());
    expect(sum(m, 'mountstorm_mount_table_entries')).toBe(lines);
    expect(sum(m, 'mountstorm_mounts')).toBe(lines);
    inMountNamespace(exp, `for i in $(seq 1 30); do umount ${dir}/e$i; done`);
    const after = await exp.waitSamples(2);
    expect(sum(after, 'mountstorm_mount_table_entries')).toBe(lines - 30);
    expect(exp.logs()).not.toMatch(/table size comes from its readings only/);
  });

  rootTest(
    'fanotify: every mount made and removed is counted, pairs made and removed between two samples included',
    async () => {
      const K = 300;
      const before = await exp.waitSamples(1);
      // K tmpfs mount + umount pairs, well inside one 1 s sample: the table diff sees none of them.
      inMountNamespace(exp, `mkdir -p ${dir}/k; ${process.execPath} ${MOUNT_K} ${dir}/k ${K}`);
      const after = await exp.waitSamples(2);
      expect(delta(before, after, 'mountstorm_mount_events_total', { event: 'attach' })).toBe(K);
      expect(delta(before, after, 'mountstorm_mount_events_total', { event: 'detach' })).toBe(K);
      expect(delta(before, after, 'mountstorm_mount_event_overflows_total')).toBe(0);
      expect(delta(before, after, 'mountstorm_mounts_added_total')).toBe(0);
      expect(sum(after, 'mountstorm_mount_events_namespaces')).toBe(1);
    },
  );
});

rootTest('the walk counts every mount namespace, one held only by a bind mount of its nsfs file included', () => {
  // In a private mount namespace of its own (the bind mount that holds the namespace lives there):
  // a namespace is made and pinned on a file, its process gone; then the walk and a /proc scan.
  const script = `
    const fs = require('node:fs');
    const { execFileSync } = require('node:child_process');
    const { mountNamespaceInfo, walkMountNamespaces } = require(${JSON.stringify(path.join(REPO, 'dist/src/kernel/nsfs'))});
    const dir = fs.mkdtempSync('/tmp/mountstorm-pin-');
    // Whatever fails below, the host's /tmp keeps nothing (the tmpfs goes with this namespace).
    process.on('exit', () => { try { fs.rmdirSync(dir); } catch {} });
    execFileSync('mount', ['-t', 'tmpfs', 'pin', dir]);
    fs.writeFileSync(dir + '/ns', '');
    execFileSync('unshare', ['--mount=' + dir + '/ns', 'true']);
    const pinned = fs.statSync(dir + '/ns').ino;
    const fd = fs.openSync('/proc/self/ns/mnt', 'r');
    const ids = [];
    walkMountNamespaces(fd, (info) => ids.push(info.id));
    const pinnedFd = fs.openSync(dir + '/ns', 'r');
    const pinnedId = mountNamespaceInfo(pinnedFd).id;
    const scanned = new Set();
    for (const p of fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n))) {
      try { scanned.add(fs.statSync('/proc/' + p + '/ns/mnt').ino); } catch {}
    }
    process.stdout.write(JSON.stringify({ walked: ids.length, pinnedInWalk: ids.includes(pinnedId), pinnedInScan: scanned.has(pinned), scanned: scanned.size }));
    fs.closeSync(pinnedFd);
    fs.closeSync(fd);
    execFileSync('umount', [dir + '/ns']);
    execFileSync('umount', [dir]);
    fs.rmdirSync(dir);
  `;
  // On one CPU: the kernel binds a namespace file only for a namespace newer than the binder's own
  // (mnt_ns_loop, by id), and 6.18 hands out namespace ids in per-CPU batches, so a namespace made on
  // the other CPU can look older and the bind fails with EINVAL (seen here: 0 of 20 binds from CPU 0
  // into a namespace made on CPU 1, 20 of 20 the other way and on the same CPU).
  const r = JSON.parse(
    execFileSync(
      'taskset',
      ['-c', '0', 'unshare', '--mount', '--propagation', 'private', process.execPath, '-e', script],
      { encoding: 'utf8' },
    ),
  ) as { walked: number; pinnedInWalk: boolean; pinnedInScan: boolean; scanned: number };
  expect(r.pinnedInWalk).toBe(true);
  expect(r.pinnedInScan).toBe(false);
  expect(r.walked).toBeGreaterThanOrEqual(2);
});

rootTest(
  'leaks: a mount namespace no process is in (held by a bind mount of its nsfs file) is counted unheld, with its mounts, until its pin goes',
  async () => {
    const exp = await startExporter(
      [
        '--sample.interval=200ms',
        '--no-collector.containers',
        '--no-collector.tracefs',
        '--collector.namespaces.leak-scan-interval=1s',
      ],
      { ownMountNamespace: true },
    );
    const dir = fs.mkdtempSync('/tmp/mountstorm-leak-');
    let helper: ReturnType<typeof spawn> | undefined;
    try {
      const m0 = await exp.until((m) => has(m, 'mountstorm_mount_namespaces_unheld'), 'the unheld gauge', T);
      const before = sum(m0, 'mountstorm_mount_namespaces_unheld');
      const beforeMounts = sum(m0, 'mountstorm_mount_namespaces_unheld_mounts');
      // A helper in a namespace of its own pins a new namespace (with 3 extra tmpfs mounts in it) on a
      // file there, and that namespace's process exits: only the bind mount holds it. One CPU: see the pin test above.
      const script = `mount -t tmpfs pin ${dir}; touch ${dir}/ns; mkdir ${dir}/a ${dir}/b ${dir}/c; unshare --mount=${dir}/ns --propagation private sh -ec 'for d in a b c; do mount -t tmpfs x ${dir}/$d; done'; echo pinned; exec sleep 600`;
      helper = spawn('taskset', ['-c', '0', 'unshare', '--mount', '--propagation', 'private', 'sh', '-ec', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const h = helper;
      await new Promise<void>((resolve, reject) => {
        h.stdout?.on('data', (d: Buffer) => d.toString().includes('pinned') && resolve());
        h.on('exit', (code) => reject(new Error(`the pin helper exited (${code})`)));
      });
      const leaked = await exp.until(
        (m) => sum(m, 'mountstorm_mount_namespaces_unheld') === before + 1,
        'the pinned namespace',
        T,
      );
      // The pinned namespace is a copy of the helper's (the exporter's table and the pin tmpfs) plus three.
      expect(sum(leaked, 'mountstorm_mount_namespaces_unheld_mounts')).toBeGreaterThan(beforeMounts + 3);
      h.kill('SIGKILL'); // its namespace goes, with the bind mount that held the pinned one
      await exp.until(
        (m) =>
          sum(m, 'mountstorm_mount_namespaces_unheld') === before &&
          sum(m, 'mountstorm_mount_namespaces_unheld_mounts') === beforeMounts,
        'the pinned namespace gone',
        T,
      );
    } finally {
      helper?.kill('SIGKILL');
      await exp.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

rootTest('node scope: a namespace made after the start is found by the walk, and its mounts are counted', async () => {
  // In the host's PID namespace, where the walk works (a hostPID DaemonSet).
  const exp = await startExporter(['--sample.interval=500ms', '--no-collector.containers', '--no-collector.tracefs'], {
    ownMountNamespace: true,
  });
  try {
    // The first sample waits for the walk (up to --sample.timeout); waiting for its series keeps
    // the test from assuming which sample that is.
    const m0 = await exp.until(
      (m) => has(m, 'mountstorm_mount_namespaces_method', { method: 'nsfs' }),
      'the nsfs walk',
      T,
    );
    expect(sum(m0, 'mountstorm_mount_namespaces_method', { method: 'nsfs' })).toBe(1);
    expect(sum(m0, 'mountstorm_mount_namespaces_mounts')).toBeGreaterThan(0);
    const K = 200;
    // A namespace of its own that waits (to be found by the next walks), then mounts K times.
    const dir = fs.mkdtempSync('/tmp/mountstorm-node-');
    const child = spawn(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-ec',
        `mount -t tmpfs n ${dir}; mkdir ${dir}/k; read go; ${process.execPath} ${MOUNT_K} ${dir}/k ${K}; umount ${dir}`,
      ],
      { stdio: ['pipe', 'inherit', 'inherit'] },
    );
    const found = await exp.until(
      (m) =>
        sum(m, 'mountstorm_mount_namespaces') > sum(m0, 'mountstorm_mount_namespaces') &&
        sum(m, 'mountstorm_mount_events_namespaces') > sum(m0, 'mountstorm_mount_events_namespaces'),
      'the new namespaces found and marked',
      T,
    );
    await exp.waitSamples(1);
    const before = await exp.metrics();
    child.stdin.end('go\n');
    await new Promise((r) => child.on('exit', r));
    const after = await exp.waitSamples(2);
    fs.rmdirSync(dir);
    expect(sum(found, 'mountstorm_mount_namespaces')).toBe(sum(m0, 'mountstorm_mount_namespaces') + 1);
    // The kernel's own start signal: one namespace made, counted once, by the walk that found it.
    expect(delta(m0, found, 'mountstorm_mount_namespaces_created_total')).toBe(1);
    expect(delta(found, after, 'mountstorm_mount_namespaces_created_total')).toBe(0);
    // Node-wide: other namespaces may mount meanwhile, never fewer than the child's.
    expect(delta(before, after, 'mountstorm_mount_events_total', { event: 'attach' })).toBeGreaterThanOrEqual(K);
    expect(delta(before, after, 'mountstorm_mount_events_total', { event: 'detach' })).toBeGreaterThanOrEqual(K + 1);
    expect(exp.logs()).toMatch(/counting mount events with fanotify" scope=node/);
  } finally {
    await exp.stop();
  }
});

rootTest(
  'each path falls back cleanly where the kernel refuses it: no nsfs, no fanotify mount events, no listmount',
  async () => {
    const exp = await startExporter(
      ['--sample.interval=200ms', '--no-collector.containers', '--no-collector.tracefs'],
      { privateNamespaces: true, env: { MOUNTSTORM_KERNEL_REFUSE: 'nsfs,fanotify-mount,listmount' } },
    );
    try {
      const m = await exp.waitSamples(3);
      for (const c of ['mounts', 'probes', 'namespaces', 'cpu', 'host'])
        expect(sum(m, 'mountstorm_sample_collector_success', { collector: c })).toBe(1);
      expect(sum(m, 'mountstorm_mount_table_method', { method: 'mountinfo' })).toBe(1);
      expect(sum(m, 'mountstorm_mount_namespaces_method', { method: 'procfs' })).toBe(1);
      expect(sum(m, 'mountstorm_mount_table_entries')).toBe(sum(m, 'mountstorm_mounts'));
      expect(has(m, 'mountstorm_mount_events_total')).toBe(false);
      expect(has(m, 'mountstorm_mount_namespaces_mounts')).toBe(false);
      const logs = exp.logs();
      expect(logs).toMatch(/listmount\(2\) not used: listmount\(2\) failed: ENOSYS/);
      expect(logs).toMatch(
        /table size comes from its readings only" reason="NS_MNT_GET_INFO on \S+: NS_MNT_GET_INFO failed: ENOTTY/,
      );
      expect(logs).toMatch(/namespaces: scanning \/proc\/\*\/ns\/mnt" reason="NS_MNT_GET_INFO failed: ENOTTY/);
      expect(logs).toMatch(
        /no mount events; churn comes from the mounts collector's table readings only" reason="fanotify_init\(FAN_REPORT_MNT\) failed: EINVAL \(mount events need Linux 6.15\+\)/,
      );
    } finally {
      await exp.stop();
    }
  },
);

rootTest(
  'tracing on demand: nothing enabled on a quiet node; a storm of mount events arms it within a sample; calm disarms it',
  async () => {
    const exp = await startExporter(
      [
        '--sample.interval=200ms',
        '--no-collector.containers',
        '--collector.namespaces.events=watched',
        '--collector.namespaces.storm-rate=200',
        '--collector.tracefs.calm=2s',
      ],
      { privateNamespaces: true },
    );
    const dir = fs.mkdtempSync('/tmp/mountstorm-arm-');
    const enabled = () =>
      Number(
        inMountNamespace(
          exp,
          'cat /sys/kernel/tracing/instances/mountstorm-*/events/syscalls/sys_enter_mount/enable',
        ).trim(),
      );
    try {
      let m = await exp.until((x) => has(x, 'mountstorm_trace_mode'), 'the trace mode', T);
      expect(sum(m, 'mountstorm_trace_armed')).toBe(0);
      expect(sum(m, 'mountstorm_trace_mode', { mode: 'on-demand' })).toBe(1);
      expect(enabled()).toBe(0);
      // The kernel rounds the size up to whole sub-buffers with their headers.
      const kb = Number(inMountNamespace(exp, 'cat /sys/kernel/tracing/instances/mountstorm-*/buffer_size_kb').trim());
      expect(kb).toBeGreaterThanOrEqual(bufferSizeFor(os.cpus().length));
      expect(kb).toBeLessThan(bufferSizeFor(os.cpus().length) * 1.01);
      inMountNamespace(exp, `mount -t tmpfs arm ${dir}; mkdir ${dir}/k`);
      // A burst far above 200 mount events/s: armed at once.
      inMountNamespace(exp, `${process.execPath} ${MOUNT_K} ${dir}/k 500`);
      m = await exp.until((x) => sum(x, 'mountstorm_trace_armed') === 1, 'armed', T);
      expect(enabled()).toBe(1);
      expect(sum(m, 'mountstorm_trace_arms_total')).toBe(1);
      expect(exp.logs()).toMatch(/tracefs: armed: a mount storm may be starting" reason="mount events at \d+\/s"/);
      // Armed, every mount syscall is counted: K more pairs by a process of a name of its own.
      const K = 100;
      const named = path.join(dir, 'mountstorm-arm');
      inMountNamespace(exp, `ln -s ${process.execPath} ${named}`);
      const before = await exp.waitSamples(1);
      inMountNamespace(exp, `${named} ${MOUNT_K} ${dir}/k ${K}`);
      const after = await exp.until(
        (x) => total(x, 'mountstorm_mount_syscalls_by_process_total', { comm: 'mountstorm-arm' }) >= 2 * K,
        'the mounts traced',
        T,
      );
      expect(delta(before, after, 'mountstorm_mount_syscalls_by_process_total', { comm: 'mountstorm-arm' })).toBe(
        2 * K,
      );
      // Quiet for --collector.tracefs.calm: disarmed, nothing enabled again.
      m = await exp.until((x) => sum(x, 'mountstorm_trace_armed') === 0, 'disarmed', T);
      expect(enabled()).toBe(0);
      expect(exp.logs()).toMatch(/tracefs: disarmed: no storm signal for a while/);
      inMountNamespace(exp, `umount ${dir}`);
    } finally {
      await exp.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
