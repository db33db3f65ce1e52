/**
 * The exporter against the real kernel. It runs in its own mount and PID namespace, so
 * /proc/1/mountinfo is its own table; the test mounts into that namespace with nsenter.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listmountProbe } from '../../src/kernel/features';
import { IS_ROOT, REPO, requireInCi, testIf } from '../support/env';
import { startExporter, type RunningExporter } from '../support/exporter';
import { sum, type Sample } from '../support/metrics';

requireInCi(IS_ROOT, 'root for real mounts');
const rootTest = testIf(IS_ROOT, 'needs root (CAP_SYS_ADMIN) for real mounts in private namespaces');

describe('real kernel, private mount and PID namespace', () => {
  let exp: RunningExporter;
  let dir: string;
  const inNs = (script: string) =>
    execFileSync('nsenter', ['-t', String(exp.pid), '-m', '-p', '--', 'sh', '-ec', script], { encoding: 'utf8' });
  const lineCount = () => Number(inNs('wc -l < /proc/1/mountinfo').trim());

  beforeAll(async () => {
    if (!IS_ROOT) return;
    dir = fs.mkdtempSync('/tmp/mountstorm-kernel-');
    // Without tracefs: its reader thread would compete with the storm for 2 CPUs and damp the probe
    // signal this file is about (tracefs has its own tests in tracefs.test.ts).
    exp = await startExporter(['--sample.interval=200ms', '--no-collector.containers', '--no-collector.tracefs'], {
      privateNamespaces: true,
    });
    inNs(`mount -t tmpfs base ${dir}`);
    await exp.waitSamples(2);
  });
  afterAll(async () => {
    if (!IS_ROOT) return;
    await exp.stop('SIGTERM'); // SIGTERM: the exporter removes its tracefs instance
    fs.rmSync(dir, { recursive: true, force: true });
  });

  rootTest('the exporter watches its own namespace: /proc/1 is the exporter', () => {
    expect(fs.readlinkSync(`/proc/${exp.pid}/ns/mnt`)).not.toBe(fs.readlinkSync('/proc/self/ns/mnt'));
    expect(inNs('cat /proc/1/comm').trim()).toBe('node');
  });

  rootTest('the table is read with listmount(2) where the kernel has it (Linux 6.8+), else the text', async () => {
    const m = await exp.waitSamples(1);
    const expected = listmountProbe().available === 'yes' ? 'listmount' : 'mountinfo';
    expect(sum(m, 'mountstorm_mount_table_method', { method: expected })).toBe(1);
    expect(sum(m, 'mountstorm_mount_table_method')).toBe(1);
  });

  rootTest('N mounts: mountstorm_mounts equals the line count and added_total rises by exactly N', async () => {
    const N = 40;
    const before = await exp.waitSamples(1);
    inNs(`for i in $(seq 1 ${N}); do mkdir -p ${dir}/m$i; mount -t tmpfs m$i ${dir}/m$i; done`);
    const after = await exp.waitSamples(2);
    expect(sum(after, 'mountstorm_mounts')).toBe(lineCount());
    expect(
      sum(after, 'mountstorm_mounts', { fstype: 'tmpfs' }) - sum(before, 'mountstorm_mounts', { fstype: 'tmpfs' }),
    ).toBe(N);
    expect(sum(after, 'mountstorm_mounts_added_total') - sum(before, 'mountstorm_mounts_added_total')).toBe(N);
    expect(sum(after, 'mountstorm_mounts_removed_total') - sum(before, 'mountstorm_mounts_removed_total')).toBe(0);

    inNs(`for i in $(seq 1 ${N}); do umount ${dir}/m$i; done`);
    const gone = await exp.waitSamples(2);
    expect(sum(gone, 'mountstorm_mounts_removed_total') - sum(after, 'mountstorm_mounts_removed_total')).toBe(N);
    expect(sum(gone, 'mountstorm_mounts_added_total') - sum(after, 'mountstorm_mounts_added_total')).toBe(0);
    expect(sum(gone, 'mountstorm_mounts')).toBe(lineCount());
  });

  rootTest('an overlay with L layers: layer metrics exact, histogram observes it once', async () => {
    const L = 7;
    const before = await exp.waitSamples(1);
    const lower = Array.from({ length: L }, (_, i) => `${dir}/ov/l${i}`);
    inNs(`mkdir -p ${lower.join(' ')} ${dir}/ov/up ${dir}/ov/work ${dir}/ov/merged
          mount -t overlay ov -o lowerdir=${lower.join(':')},upperdir=${dir}/ov/up,workdir=${dir}/ov/work ${dir}/ov/merged`);
    const m = await exp.waitSamples(2);
    expect(sum(m, 'mountstorm_overlay_mounts')).toBe(1);
    expect(sum(m, 'mountstorm_overlay_lower_layers')).toBe(L);
    expect(sum(m, 'mountstorm_overlay_lower_layers_max')).toBe(L);
    expect(
      sum(m, 'mountstorm_overlay_new_mount_lower_layers_count') -
        sum(before, 'mountstorm_overlay_new_mount_lower_layers_count'),
    ).toBe(1);
    expect(
      sum(m, 'mountstorm_overlay_new_mount_lower_layers_sum') -
        sum(before, 'mountstorm_overlay_new_mount_lower_layers_sum'),
    ).toBe(L);
    expect(
      sum(m, 'mountstorm_overlay_new_mount_lower_layers_bucket', { le: '5' }) -
        sum(before, 'mountstorm_overlay_new_mount_lower_layers_bucket', { le: '5' }),
    ).toBe(0);
    expect(
      sum(m, 'mountstorm_overlay_new_mount_lower_layers_bucket', { le: '10' }) -
        sum(before, 'mountstorm_overlay_new_mount_lower_layers_bucket', { le: '10' }),
    ).toBe(1);
    inNs(`umount ${dir}/ov/merged`);
    const after = await exp.waitSamples(2);
    expect(sum(after, 'mountstorm_overlay_mounts')).toBe(0);
  });

  rootTest('idmapped mounts are counted', async () => {
    inNs(
      `mkdir -p ${dir}/id/src ${dir}/id/dst; python3 ${REPO}/test/fixtures/capture/idmap.py ${dir}/id/src ${dir}/id/dst`,
    );
    const m = await exp.waitSamples(2);
    expect(sum(m, 'mountstorm_idmapped_mounts')).toBe(1);
    inNs(`umount ${dir}/id/dst`);
    expect(sum(await exp.waitSamples(2), 'mountstorm_idmapped_mounts')).toBe(0);
  });

  rootTest('change-driven reads: a quiet table is not re-read; a change wakes the reader through poll()', async () => {
    const q0 = await exp.waitSamples(1);
    const q1 = await exp.waitSamples(10);
    const d = (a: Sample[], b: Sample[], n: string) => sum(b, n) - sum(a, n);
    expect(d(q0, q1, 'mountstorm_mount_table_reads_total')).toBe(0);
    expect(d(q0, q1, 'mountstorm_mount_table_change_events_total')).toBe(0);
    inNs(`mkdir -p ${dir}/poll && mount -t tmpfs poll ${dir}/poll`);
    const c = await exp.waitSamples(3);
    expect(d(q1, c, 'mountstorm_mount_table_change_events_total')).toBeGreaterThanOrEqual(1);
    expect(d(q1, c, 'mountstorm_mount_table_reads_total')).toBeGreaterThanOrEqual(1);
    expect(d(q1, c, 'mountstorm_mounts_added_total')).toBe(1);
    inNs(`umount ${dir}/poll`);
    expect(d(c, await exp.waitSamples(3), 'mountstorm_mounts_removed_total')).toBe(1);
  });

  rootTest('fs.mount-max and mount namespaces are read from the kernel', async () => {
    const m = await exp.metrics();
    expect(sum(m, 'mountstorm_mount_max')).toBe(Number(fs.readFileSync('/proc/sys/fs/mount-max', 'utf8')));
    expect(sum(m, 'mountstorm_mount_namespaces')).toBeGreaterThanOrEqual(1);
  });

  rootTest('a concurrent mount storm raises the namespace_sem probe above its quiet baseline', async () => {
    // Storm: 2 threads bind-mounting and unmounting, 3 processes creating mount namespaces over a
    // 5000-entry table (each copy holds namespace_sem for writing, as container starts do).
    const SLOW = '0.0005';
    const slowFraction = (a: Sample[], b: Sample[]) => {
      const q = { probe: 'namespace_sem' };
      const n =
        sum(b, 'mountstorm_probe_duration_seconds_count', q) - sum(a, 'mountstorm_probe_duration_seconds_count', q);
      const fast =
        sum(b, 'mountstorm_probe_duration_seconds_bucket', { ...q, le: SLOW }) -
        sum(a, 'mountstorm_probe_duration_seconds_bucket', { ...q, le: SLOW });
      return (n - fast) / n;
    };
    const maxEstimate = async (samples: number) => {
      let max = 0;
      for (let i = 0; i < samples; i++)
        max = Math.max(
          max,
          sum(await exp.waitSamples(1), 'mountstorm_lock_wait_estimate_seconds', { lock: 'namespace_sem' }),
        );
      return max;
    };
    const q0 = await exp.metrics();
    const quietMax = await maxEstimate(15);
    const quietSlow = slowFraction(q0, await exp.metrics());
    const baseline = sum(await exp.metrics(), 'mountstorm_probe_baseline_seconds', { probe: 'namespace_sem' });

    const churn = path.join(REPO, 'dist/test/support/churn.js');
    const storm = new Promise<string>((resolve, reject) => {
      execFile(
        'nsenter',
        ['-t', String(exp.pid), '-m', '-p', '--', process.execPath, churn, `${dir}/churn`, '2', '14', '5000', '3'],
        (err, out) => (err ? reject(new Error(err.message, { cause: err })) : resolve(out)),
      );
    });
    // The storm has begun once its preloaded table is in the exporter's readings.
    let s0 = await exp.waitSamples(1);
    const added = () => sum(s0, 'mountstorm_mounts_added_total') - sum(q0, 'mountstorm_mounts_added_total');
    for (let i = 0; added() < 5000; i++) {
      if (i > 100) throw new Error(`the storm's table never appeared: ${added()} mounts added`);
      s0 = await exp.waitSamples(1);
    }
    // On 2 cores the estimate rises in bursts: watch 45 samples (9 s) of the 14 s storm.
    const stormMax = await maxEstimate(45);
    const stormSlow = slowFraction(s0, await exp.metrics());
    const pairs = Number((await storm).trim()) / 2; // churn.js prints syscalls: 2 per pair
    console.log(
      `namespace_sem probe: baseline ${(baseline * 1e6).toFixed(0)} µs; probes over ${Number(SLOW) * 1e3} ms: quiet ${(quietSlow * 100).toFixed(0)} %, storm ${(stormSlow * 100).toFixed(0)} %; ` +
        `estimate max: quiet ${(quietMax * 1e6).toFixed(0)} µs, storm ${(stormMax * 1e6).toFixed(0)} µs; ${pairs} mount+umount pairs`,
    );
    expect(pairs).toBeGreaterThan(1000);
    // On 2 cores the probe rises in bursts (while a copy of the table holds the lock), not steadily:
    // the share of probes above 0.5 ms (~6x the quiet baseline) is the robust signal. The estimate,
    // the median of the last 5 probes, rises only where 3 of 5 in a row are slow: with 13-27 % of
    // them slow its storm max was 97 us, 215 us, 395 us and 3.2 ms in four runs on 2026-12-07's
    // machine (quiet max 12-58 us). So it is held to twice its quiet max and half the baseline above
    // it, not to a figure. Its rise at scale is in BENCHMARKS.md (16 cores: 150-700x).
    expect(stormSlow).toBeGreaterThanOrEqual(0.08);
    expect(stormSlow).toBeGreaterThan(quietSlow + 0.05);
    expect(stormMax).toBeGreaterThan(Math.max(2 * quietMax, 0.5 * baseline));
  });
});
