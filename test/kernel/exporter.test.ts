/**
 * The exporter against the real kernel. It runs in its own mount and PID namespace, so
 * /proc/1/mountinfo is its own table; the test mounts into that namespace with nsenter.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
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
    exp = await startExporter(['--sample.interval=200ms', '--no-collector.containers'], { privateNamespaces: true });
    inNs(`mount -t tmpfs base ${dir}`);
    await exp.waitSamples(2);
  });
  afterAll(async () => {
    if (!IS_ROOT) return;
    await exp.stop('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  rootTest('the exporter watches its own namespace: /proc/1 is the exporter', () => {
    expect(fs.readlinkSync(`/proc/${exp.pid}/ns/mnt`)).not.toBe(fs.readlinkSync('/proc/self/ns/mnt'));
    expect(inNs('cat /proc/1/comm').trim()).toBe('node');
  });

  rootTest('N mounts: mountstorm_mounts equals the line count and added_total rises by exactly N', async () => {
    const N = 40;
    const before = await exp.waitSamples(1);
    inNs(`for i in $(seq 1 ${N}); do mkdir -p ${dir}/m$i; mount -t tmpfs m$i ${dir}/m$i; done`);
    const after = await exp.waitSamples(2);
    expect(sum(after, 'mountstorm_mounts')).toBe(lineCount());
    expect(sum(after, 'mountstorm_mounts', { fstype: 'tmpfs' }) - sum(before, 'mountstorm_mounts', { fstype: 'tmpfs' })).toBe(N);
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
    expect(sum(m, 'mountstorm_overlay_new_mount_lower_layers_count') - sum(before, 'mountstorm_overlay_new_mount_lower_layers_count')).toBe(1);
    expect(sum(m, 'mountstorm_overlay_new_mount_lower_layers_sum') - sum(before, 'mountstorm_overlay_new_mount_lower_layers_sum')).toBe(L);
    expect(sum(m, 'mountstorm_overlay_new_mount_lower_layers_bucket', { le: '5' }) - sum(before, 'mountstorm_overlay_new_mount_lower_layers_bucket', { le: '5' })).toBe(0);
    expect(sum(m, 'mountstorm_overlay_new_mount_lower_layers_bucket', { le: '10' }) - sum(before, 'mountstorm_overlay_new_mount_lower_layers_bucket', { le: '10' })).toBe(1);
    inNs(`umount ${dir}/ov/merged`);
    const after = await exp.waitSamples(2);
    expect(sum(after, 'mountstorm_overlay_mounts')).toBe(0);
  });

  rootTest('idmapped mounts are counted', async () => {
    inNs(`mkdir -p ${dir}/id/src ${dir}/id/dst; python3 ${REPO}/test/fixtures/capture/idmap.py ${dir}/id/src ${dir}/id/dst`);
    const m = await exp.waitSamples(2);
    expect(sum(m, 'mountstorm_idmapped_mounts')).toBe(1);
    inNs(`umount ${dir}/id/dst`);
    expect(sum(await exp.waitSamples(2), 'mountstorm_idmapped_mounts')).toBe(0);
  });

  rootTest('fs.mount-max and mount namespaces are read from the kernel', async () => {
    const m = await exp.metrics();
    expect(sum(m, 'mountstorm_mount_max')).toBe(Number(fs.readFileSync('/proc/sys/fs/mount-max', 'utf8')));
    expect(sum(m, 'mountstorm_mount_namespaces')).toBeGreaterThanOrEqual(1);
  });

  rootTest('a concurrent mount storm raises the namespace_sem probe above its quiet baseline', async () => {
    const probeMean = (s: Sample[]) => ({
      sum: sum(s, 'mountstorm_probe_duration_seconds_sum', { probe: 'namespace_sem' }),
      count: sum(s, 'mountstorm_probe_duration_seconds_count', { probe: 'namespace_sem' }),
    });
    const quiet0 = probeMean(await exp.metrics());
    const quiet1 = probeMean(await exp.waitSamples(15));
    const quietMean = (quiet1.sum - quiet0.sum) / (quiet1.count - quiet0.count);
    const baseline = sum(await exp.metrics(), 'mountstorm_probe_baseline_seconds', { probe: 'namespace_sem' });

    const churn = path.join(REPO, 'dist/test/support/churn.js');
    const storm = new Promise<string>((resolve, reject) => {
      const { execFile } = require('node:child_process') as typeof import('node:child_process');
      execFile('nsenter', ['-t', String(exp.pid), '-m', '-p', '--', process.execPath, churn, `${dir}/churn`, '4', '5'], (err, out) => (err ? reject(err) : resolve(out)));
    });
    await new Promise((r) => setTimeout(r, 1500));
    const during0 = probeMean(await exp.metrics());
    const during1 = probeMean(await exp.waitSamples(8));
    let maxEstimate = 0;
    for (let i = 0; i < 5; i++) {
      maxEstimate = Math.max(maxEstimate, sum(await exp.waitSamples(1), 'mountstorm_lock_wait_estimate_seconds', { lock: 'namespace_sem' }));
    }
    const pairs = Number((await storm).trim());
    const stormMean = (during1.sum - during0.sum) / (during1.count - during0.count);
    // eslint-disable-next-line no-console
    console.log(`namespace_sem probe: quiet mean ${(quietMean * 1e6).toFixed(1)} µs, baseline ${(baseline * 1e6).toFixed(1)} µs, storm mean ${(stormMean * 1e6).toFixed(1)} µs, estimate max ${(maxEstimate * 1e6).toFixed(1)} µs, ${pairs} mount+umount pairs`);
    expect(pairs).toBeGreaterThan(1000);
    expect(stormMean).toBeGreaterThan(baseline * 2);
    expect(stormMean).toBeGreaterThan(quietMean * 1.5);
    expect(maxEstimate).toBeGreaterThan(0);
  });
});
