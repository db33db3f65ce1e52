/**
 * The exporter's two worker threads, against the real kernel: the work that waits on the mount
 * locks (the table's readings, the probes: mount-locks) shares a thread, and what the kernel reports
 * as it happens (the trace, the mount namespaces: kernel-events) has the other, so a reading stuck
 * behind a lock never holds up the count of the storm that holds it. The stall is made as in
 * test/binary/stall.test.ts: a FIFO in place of the watched mountinfo, whose open() blocks like a
 * reader stuck behind mount writers, until the test lets it through.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES, IS_ROOT, REPO, requireInCi, testIf } from '../support/env';
import { inMountNamespace, startExporter } from '../support/exporter';
import { sum, total } from '../support/metrics';

requireInCi(IS_ROOT, 'root for tracefs and real mounts');
const rootTest = testIf(IS_ROOT, 'needs root (CAP_SYS_ADMIN) for tracefs and real mounts');

rootTest('a mount-locks thread stuck on the table leaves the trace counting every mount syscall', async () => {
  const proc = fs.mkdtempSync('/tmp/mountstorm-threads-');
  const dir = fs.mkdtempSync('/tmp/mountstorm-threads-k-');
  fs.cpSync(path.join(FIXTURES, 'proc'), proc, { recursive: true, verbatimSymlinks: true });
  fs.rmSync(path.join(proc, '1/mountinfo'));
  const fifo = path.join(proc, '1/mountinfo');
  execFileSync('mkfifo', [fifo]);
  const exp = await startExporter(
    [
      `--path.procfs=${proc}`,
      '--sample.interval=200ms',
      '--sample.timeout=400ms',
      '--collector.probes.timeout=300ms',
      '--no-collector.containers',
      '--collector.tracefs.mode=always',
    ],
    { privateNamespaces: true },
  );
  try {
    const before = await exp.waitSamples(5);
    // The mount-locks thread is stuck for good: the table never read, one probe stall observed.
    expect(sum(before, 'mountstorm_sample_collector_success', { collector: 'mounts' })).toBe(0);
    expect(sum(before, 'mountstorm_probe_timeouts_total', { probe: 'namespace_sem' })).toBe(1);
    expect(sum(before, 'mountstorm_sample_collector_success', { collector: 'tracefs' })).toBe(1);

    const K = 23;
    // In the exporter's private mount namespace, where nothing else mounts.
    inMountNamespace(
      exp,
      `mkdir ${dir}/k; ${process.execPath} ${path.join(REPO, 'dist/test/support/mount-k.js')} ${dir}/k ${K}`,
    );
    const after = await exp.waitSamples(3);
    const delta = (name: string, labels: Record<string, string>) =>
      total(after, name, labels) - total(before, name, labels);
    expect(delta('mountstorm_mount_syscalls_total', { syscall: 'mount' })).toBe(K);
    expect(delta('mountstorm_mount_syscalls_total', { syscall: 'umount' })).toBe(K);
    expect(sum(after, 'mountstorm_sample_collector_success', { collector: 'tracefs' })).toBe(1);
    // Still stuck, and still one stall: no probe was piled onto it.
    expect(sum(after, 'mountstorm_sample_collector_success', { collector: 'mounts' })).toBe(0);
    expect(sum(after, 'mountstorm_probe_timeouts_total', { probe: 'namespace_sem' })).toBe(1);

    // The stall ends: a writer lets the stuck open() through, a real table takes the FIFO's place,
    // and the writer's close ends the stuck read. The same thread reads the table again.
    const writer = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.copyFileSync(path.join(FIXTURES, 'proc/1/mountinfo'), `${fifo}.new`);
    fs.renameSync(`${fifo}.new`, fifo);
    fs.closeSync(writer);
    let healed = await exp.waitSamples(1);
    for (let i = 0; sum(healed, 'mountstorm_sample_collector_success', { collector: 'mounts' }) !== 1; i++) {
      if (i > 50) throw new Error('the table was never read after the stall ended');
      healed = await exp.waitSamples(1);
    }
    expect(sum(healed, 'mountstorm_mount_table_entries')).toBeGreaterThan(0);
  } finally {
    await exp.stop('SIGTERM');
    fs.rmSync(proc, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
