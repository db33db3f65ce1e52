/**
 * End to end over the fixture trees (a dual-socket, 2-NUMA-node, SMT-on host): the built binary
 * serves /metrics and the output is diffed against test/fixtures/e2e-output.prom.
 * Lines that vary run to run (durations, probe timings, sample and read counts, process and build metrics) are filtered out
 * by VARYING. Rewrite the golden file with: UPDATE_GOLDEN=1 npm test -- -t golden
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { FIXTURES, hasCommand, requireInCi, testIf } from '../support/env';
import { startExporter, type RunningExporter } from '../support/exporter';
import { sum, parseExposition } from '../support/metrics';
import { FIXTURE_ARGS } from '../support/fixtures';

const GOLDEN = path.join(FIXTURES, 'e2e-output.prom');
const VARYING =
  /^(process_|mountstorm_build_info|mountstorm_probe_|mountstorm_lock_wait_estimate|mountstorm_event_loop|mountstorm_last_sample|mountstorm_samples_total|mountstorm_mount_table_read_duration|mountstorm_mount_table_reads_total|mountstorm_sample_collector_duration|mountstorm_sample_overruns)/;

function stable(text: string): string {
  return (
    text
      .split('\n')
      .filter((l) => l !== '' && (l.startsWith('#') || !VARYING.test(l)))
      .join('\n') + '\n'
  );
}

describe('golden /metrics over fixtures', () => {
  let exp: RunningExporter;
  let text: string;
  beforeAll(async () => {
    exp = await startExporter(FIXTURE_ARGS);
    await exp.waitSamples(2);
    text = await (await fetch(`${exp.url}/metrics`)).text();
  });
  afterAll(() => exp.stop());

  test('golden file matches', () => {
    const got = stable(text);
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(GOLDEN, got);
    expect(got).toBe(fs.readFileSync(GOLDEN, 'utf8'));
  });

  test('fixture facts: the sum of mountstorm_mounts is the line count; per-socket CPU adds up', () => {
    const m = parseExposition(text);
    const lines = fs.readFileSync(path.join(FIXTURES, 'proc/1/mountinfo'), 'utf8').trim().split('\n').length;
    expect(sum(m, 'mountstorm_mounts')).toBe(lines);
    expect(sum(m, 'mountstorm_idmapped_mounts')).toBe(12);
    expect(sum(m, 'mountstorm_overlay_mounts')).toBe(3);
    expect(sum(m, 'mountstorm_overlay_lower_layers')).toBe(4 + 8 + 12);
    expect(sum(m, 'mountstorm_overlay_lower_layers_max')).toBe(12);
    expect(sum(m, 'mountstorm_mount_namespaces')).toBe(3);
    expect(sum(m, 'mountstorm_cpu_topology_info', { sockets: '2', numa_nodes: '2', smt: 'on' })).toBe(1);
    expect(sum(m, 'mountstorm_host_info', { system_model: 'r5.metal' })).toBe(1);
    // user ticks: sum over cpus 0..95 of (1000 + c) = 96000 + 4560, at USER_HZ 100.
    expect(sum(m, 'mountstorm_cpu_seconds_total', { mode: 'user' })).toBeCloseTo((96000 + 4560) / 100, 6);
    // Socket 0 holds CPUs 0-23 and 48-71.
    let s0 = 0;
    for (let c = 0; c < 96; c++) if (c % 48 < 24) s0 += 1000 + c;
    expect(sum(m, 'mountstorm_cpu_seconds_total', { mode: 'user', socket: '0', numa_node: '0' })).toBeCloseTo(
      s0 / 100,
      6,
    );
    for (const c of ['mounts', 'probes', 'namespaces', 'cpu', 'host', 'containers']) {
      expect(sum(m, 'mountstorm_sample_collector_success', { collector: c })).toBe(1);
    }
  });

  requireInCi(hasCommand('promtool'), 'promtool (Debian package prometheus)');
  testIf(hasCommand('promtool'), 'promtool not installed (scripts/setup-test.sh installs it)')(
    'promtool check metrics is clean, on the golden file and a live scrape',
    () => {
      for (const input of [fs.readFileSync(GOLDEN, 'utf8'), text]) {
        const out = execFileSync('promtool', ['check', 'metrics'], { input, encoding: 'utf8' });
        expect(out).toBe('');
      }
    },
  );

  test('OpenMetrics by content negotiation', async () => {
    const r = await fetch(`${exp.url}/metrics`, { headers: { Accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(r.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
    const body = await r.text();
    expect(body.trimEnd().endsWith('# EOF')).toBe(true);
    expect(body).toMatch(/^# TYPE mountstorm_mounts_added counter$/m);
    const plain = await fetch(`${exp.url}/metrics`);
    expect(plain.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});
