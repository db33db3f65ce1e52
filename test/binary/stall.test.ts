/**
 * A kernel stall, simulated with a FIFO in place of mountinfo: open() blocks like a reader stuck
 * behind a mount writer. The probe reports one long observation, the stuck collector is marked
 * failed, everything else keeps sampling, and SIGTERM still ends the process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { FIXTURES } from '../support/env';
import { startExporter } from '../support/exporter';
import { sum } from '../support/metrics';

test('a stalled mountinfo read: probe timeout observed once, sampler keeps its cadence', async () => {
  const proc = fs.mkdtempSync('/tmp/mountstorm-stall-');
  fs.cpSync(path.join(FIXTURES, 'proc'), proc, { recursive: true, verbatimSymlinks: true });
  fs.rmSync(path.join(proc, '1/mountinfo'));
  execFileSync('mkfifo', [path.join(proc, '1/mountinfo')]);
  const exp = await startExporter([
    `--path.procfs=${proc}`,
    `--path.sysfs=${path.join(FIXTURES, 'sys')}`,
    '--sample.interval=100ms',
    '--sample.timeout=400ms',
    '--collector.probes.timeout=300ms',
    '--no-collector.containers',
  ]);
  try {
    const m = await exp.waitSamples(8);
    expect(sum(m, 'mountstorm_sample_collector_success', { collector: 'mounts' })).toBe(0);
    expect(sum(m, 'mountstorm_sample_collector_success', { collector: 'cpu' })).toBe(1);
    expect(sum(m, 'mountstorm_probe_timeouts_total', { probe: 'namespace_sem' })).toBe(1);
    expect(sum(m, 'mountstorm_probe_duration_seconds_count', { probe: 'namespace_sem' })).toBe(1);
    expect(sum(m, 'mountstorm_probe_duration_seconds_bucket', { probe: 'namespace_sem', le: '0.25' })).toBe(0);
    expect(sum(m, 'mountstorm_probe_duration_seconds_bucket', { probe: 'namespace_sem', le: '0.5' })).toBe(1);
    // Logged once per cause, not once per sample.
    expect(exp.logs().match(/collector timed out/g)).toHaveLength(1);
    expect((await fetch(`${exp.url}/healthz`)).status).toBe(200);
    // SIGTERM: the stuck thread never returns, and Node's own exit would wait for it forever. The
    // exporter says so and kills itself.
    expect(await exp.stop('SIGTERM')).toBeNull();
    expect(exp.proc.signalCode).toBe('SIGKILL');
    expect(exp.logs()).toMatch(
      /msg="still stuck in the kernel 5 s after the signal: killing the process" signal=SIGTERM/,
    );
  } finally {
    await exp.stop('SIGKILL');
    fs.rmSync(proc, { recursive: true });
  }
});
