/**
 * Fault injection over copies of the fixture trees, changed under a running exporter: files
 * vanishing, unreadable, truncated and overlong lines, non-numeric values, sysfs without topology,
 * a 50 MB mountinfo. The exporter keeps serving, marks the collector failed, logs once per cause,
 * recovers, and no counter ever goes back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startExporter, type RunningExporter } from '../support/exporter';
import { faultTrees as trees } from '../support/fixtures';
import { has, sum, type Sample } from '../support/metrics';

/** Every scrape is checked against the previous one: counters and histogram series never decrease. */
class MonotonicWatch {
  private last = new Map<string, number>();
  readonly violations: string[] = [];
  check(samples: Sample[]): Sample[] {
    for (const s of samples) {
      if (!/_(total|count|sum|bucket)$/.test(s.name) || s.name === 'process_cpu_seconds_total') continue;
      const key = `${s.name}${JSON.stringify(s.labels)}`;
      const prev = this.last.get(key);
      if (prev !== undefined && s.value < prev) this.violations.push(`${key}: ${prev} → ${s.value}`);
      this.last.set(key, s.value);
    }
    return samples;
  }
}

const success = (m: Sample[], c: string) => sum(m, 'mountstorm_sample_collector_success', { collector: c });

describe('faults under a running exporter', () => {
  let t: ReturnType<typeof trees>;
  let exp: RunningExporter;
  const watch = new MonotonicWatch();
  const samples = async (n: number) => watch.check(await exp.waitSamples(n));

  beforeAll(async () => {
    t = trees();
    exp = await startExporter(t.args);
    await samples(3);
  });
  afterAll(async () => {
    await exp.stop();
    fs.rmSync(t.root, { recursive: true, force: true });
  });

  test('mountinfo vanishes: mounts and probes fail, the rest carry on, logged once; it comes back: recovered', async () => {
    const mi = path.join(t.proc, '1/mountinfo');
    const saved = fs.readFileSync(mi);
    fs.rmSync(mi);
    let m = await samples(5);
    expect(success(m, 'mounts')).toBe(0);
    expect(success(m, 'cpu')).toBe(1);
    expect((await fetch(`${exp.url}/metrics`)).status).toBe(200);
    fs.writeFileSync(mi, saved);
    m = await samples(3);
    expect(success(m, 'mounts')).toBe(1);
    expect(exp.logs().match(/collector failed" collector=mounts/g)).toHaveLength(1);
    expect(exp.logs()).toMatch(/collector mounts succeeded again/);
  });

  test('truncated and overlong lines: counted as parse errors, the valid lines still counted', async () => {
    const mi = path.join(t.proc, '1/mountinfo');
    const good = fs.readFileSync(mi, 'utf8');
    const valid = good.trim().split('\n').length;
    const before = await samples(1);
    fs.writeFileSync(
      mi,
      good + '2000 1 0:99 / /x' + '\n' + '2001 1 0:99 / /' + 'y'.repeat(100_000) + ' rw - tmpfs\n' + '2002 1 0:',
    );
    const m = await samples(3);
    expect(sum(m, 'mountstorm_mounts')).toBe(valid);
    expect(
      sum(m, 'mountstorm_mountinfo_parse_errors_total') - sum(before, 'mountstorm_mountinfo_parse_errors_total'),
    ).toBeGreaterThanOrEqual(3);
    expect(success(m, 'mounts')).toBe(1);
    fs.writeFileSync(mi, good);
  });

  test('non-numeric /proc/stat: cpu fails with the line named, logged once; fixed: recovers; cpu seconds never go back', async () => {
    const stat = path.join(t.proc, 'stat');
    const good = fs.readFileSync(stat, 'utf8');
    fs.writeFileSync(stat, good.replace(/^cpu7 \d+/m, 'cpu7 x'));
    let m = await samples(5);
    expect(success(m, 'cpu')).toBe(0);
    expect(exp.logs()).toMatch(/collector=cpu err=".*stat:\d+: non-numeric user value \\"x\\""/);
    expect(exp.logs().match(/collector failed" collector=cpu/g)).toHaveLength(1);
    // A counter that restarts lower (a CPU offlined and back) adds nothing: never decreases.
    fs.writeFileSync(stat, good.replace(/^cpu0 (\d+)/m, 'cpu0 1'));
    m = await samples(3);
    expect(success(m, 'cpu')).toBe(1);
    fs.writeFileSync(stat, good);
    await samples(2);
  });

  test('sysfs without topology: CPUs placed in socket "unknown", the collector still succeeds', async () => {
    const cpuDir = path.join(t.sys, 'devices/system/cpu');
    for (const c of fs.readdirSync(cpuDir).filter((n) => /^cpu\d+$/.test(n)))
      fs.rmSync(path.join(cpuDir, c, 'topology'), { recursive: true, force: true });
    // Topology is re-read once a minute; a new exporter over the broken tree reads it at once.
    const other = await startExporter(t.args);
    try {
      const m = await other.waitSamples(3);
      expect(success(m, 'cpu')).toBe(1);
      expect(has(m, 'mountstorm_cpu_seconds_total', { socket: 'unknown' })).toBe(true);
    } finally {
      await other.stop();
    }
  });

  test('no counter went back through all of the above', () => {
    expect(watch.violations).toEqual([]);
  });
});

test('a 50 MB mountinfo: read whole and counted, memory bounded', async () => {
  const t = trees();
  const line = (i: number) =>
    `${1000 + i} 1 0:${100 + (i % 50)} / /run/containerd/io.containerd.runtime.v2.task/k8s.io/${i.toString(16).padStart(64, '0')}/rootfs rw,relatime shared:${i} - tmpfs tmpfs rw\n`;
  const fd = fs.openSync(path.join(t.proc, '1/mountinfo'), 'w');
  let bytes = 0;
  let n = 0;
  while (bytes < 50 * 1024 * 1024) {
    const chunk = Array.from({ length: 1000 }, (_, k) => line(n + k)).join('');
    fs.writeSync(fd, chunk);
    bytes += Buffer.byteLength(chunk);
    n += 1000;
  }
  fs.closeSync(fd);
  const exp = await startExporter([
    ...t.args.filter((a) => !a.startsWith('--sample.interval')),
    '--sample.interval=3s',
    '--no-collector.probes',
  ]);
  try {
    const m = await exp.waitSamples(2, 60_000);
    expect(sum(m, 'mountstorm_mounts')).toBe(n);
    expect(sum(m, 'mountstorm_mountinfo_bytes')).toBe(bytes);
    expect(sum(m, 'process_resident_memory_bytes')).toBeLessThan(1024 * 1024 * 1024);
    expect((await fetch(`${exp.url}/healthz`)).status).toBe(200);
    console.log(
      `50 MB mountinfo: ${n} mounts, collector ${sum(m, 'mountstorm_sample_collector_duration_seconds', { collector: 'mounts' }).toFixed(2)} s, RSS ${(sum(m, 'process_resident_memory_bytes') / 1048576).toFixed(0)} MiB`,
    );
  } finally {
    await exp.stop();
    fs.rmSync(t.root, { recursive: true, force: true });
  }
}, 120_000);
