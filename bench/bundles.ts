// What reading container bundles costs, against what a container start itself takes:
//  1. readBundle() (src/oci/bundle.ts: open O_NOFOLLOW, fstat, read, JSON.parse, the annotations) on
//     a bundle as the CRI writes it: the process's CPU per read, and its wall time (median of 7
//     batches of 2,000);
//  2. a burst of CONTAINERS container starts (`mountstorm storm --containers --task-dir`, per-layer
//     idmap, 50 layers), ROUNDS times, watched by two exporters at once: one reading every bundle
//     (the default), one counting the same starts without reading them
//     (--no-collector.containers.read-bundles). Reported per start: the difference of their CPU
//     (every thread, schedstat), against the start's own duration (the storm report's p50
//     container start); and each one's CPU per burst.
// usage (root, after npm run build): node dist/bench/bundles.js [rounds=10] [containers=100] [concurrency=8]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readBundle } from '../src/oci/bundle';
import type { StormReport } from '../src/storm/report';
import { median } from './stats';
import { REPO } from '../test/support/env';
import { firstChild, serveInNamespace, sleep, threadCpuSeconds } from './proc';

const args = process.argv.slice(2);
const rounds = Number(args[0] ?? 10);
const containers = Number(args[1] ?? 100);
const concurrency = Number(args[2] ?? 8);
const cli = path.join(REPO, 'dist/src/cli.js');

function micro() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-bundle-'));
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      ociVersion: '1.2.0',
      root: { path: 'rootfs' },
      annotations: {
        'io.kubernetes.cri.container-type': 'container',
        'io.kubernetes.cri.container-name': 'web',
        'io.kubernetes.cri.image-name': 'registry.example/team/web:1.4',
        'io.kubernetes.cri.sandbox-name': 'web-7d9c-x2',
        'io.kubernetes.cri.sandbox-namespace': 'shop',
        'io.kubernetes.cri.sandbox-id': 'a'.repeat(64),
      },
      process: {
        args: ['/bin/web'],
        env: Array.from({ length: 30 }, (_, i) => `VAR_${i}=${'x'.repeat(40)}`),
        cwd: '/',
      },
      mounts: Array.from({ length: 12 }, (_, i) => ({
        destination: `/m${i}`,
        type: 'bind',
        source: `/var/lib/kubelet/pods/x/volumes/${i}`,
        options: ['rbind', 'rw'],
      })),
      linux: {
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'user' }],
      },
    }),
  );
  const bytes = fs.statSync(path.join(dir, 'config.json')).size;
  const per = [];
  const cpu = [];
  for (let b = 0; b < 7; b++) {
    const n = 2000;
    const t = process.hrtime.bigint();
    const c = process.cpuUsage();
    for (let i = 0; i < n; i++) readBundle(dir);
    const used = process.cpuUsage(c);
    per.push(Number(process.hrtime.bigint() - t) / 1e3 / n);
    cpu.push((used.user + used.system) / n);
  }
  fs.rmSync(dir, { recursive: true });
  return { us: median(per), cpuUs: median(cpu), bytes };
}

async function exporter(taskDir: string, port: number, extra: string[] = []) {
  const p = serveInNamespace(cli, [
    `--web.listen-address=127.0.0.1:${port}`,
    '--sample.interval=1s',
    `--collector.containers.task-dir=${taskDir}`,
    '--no-collector.tracefs',
    ...extra,
  ]);
  let log = '';
  p.stderr.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; !/msg="watching container runtime directory"/.test(log); i++) {
    if (i > 400) throw new Error(`the exporter did not start:\n${log}`);
    await sleep(50);
  }
  await sleep(2000);
  const node = firstChild(p.pid as number) as number;
  return {
    node,
    async stop() {
      process.kill(node, 'SIGTERM');
      await new Promise((r) => p.on('exit', r));
    },
  };
}

function burst(taskDir: string): StormReport {
  const out = execFileSync(
    process.execPath,
    [
      cli,
      'storm',
      '--json',
      '--no-progress',
      `--containers=${containers}`,
      `--concurrency=${concurrency}`,
      '--layers=50',
      `--task-dir=${taskDir}`,
    ],
    { maxBuffer: 64 << 20 },
  );
  return JSON.parse(out.toString()) as StormReport;
}

(async () => {
  if (process.getuid?.() !== 0) throw new Error('run as root (the storm mounts)');
  const m = micro();
  const watched = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-bundles-'));
  const reading = await exporter(watched, 19981);
  const notReading = await exporter(watched, 19982, ['--no-collector.containers.read-bundles']);
  const diffs: number[] = [];
  const starts: number[] = [];
  const cpu = { reading: [] as number[], notReading: [] as number[] };
  try {
    for (let r = 0; r < rounds; r++) {
      // Both exporters watch every burst; only one reads the bundles.
      const a0 = threadCpuSeconds(reading.node);
      const b0 = threadCpuSeconds(notReading.node);
      const report = burst(watched);
      await sleep(2500); // the last bundles read, a sample taken by each
      const a = threadCpuSeconds(reading.node) - a0;
      const b = threadCpuSeconds(notReading.node) - b0;
      cpu.reading.push(a);
      cpu.notReading.push(b);
      diffs.push((a - b) / report.containers);
      starts.push(report.containerStart.p50);
      process.stderr.write(
        `round ${r + 1}: ${report.containers} starts, p50 start ${(report.containerStart.p50 * 1000).toFixed(2)} ms; exporter CPU reading ${(a * 1000).toFixed(0)} ms, not reading ${(b * 1000).toFixed(0)} ms\n`,
      );
    }
  } finally {
    await reading.stop();
    await notReading.stop();
    fs.rmSync(watched, { recursive: true, force: true });
  }
  const perStart = median(diffs);
  const start = median(starts);
  console.log(
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}`,
  );
  console.log(`Command: node dist/bench/bundles.js ${rounds} ${containers} ${concurrency}`);
  console.log('');
  console.log('| figure | value | against |');
  console.log('|---|---|---|');
  console.log(
    `| readBundle() of a ${m.bytes}-byte config.json: CPU (every thread) | ${m.cpuUs.toFixed(1)} µs | ${((m.cpuUs / 1e6 / start) * 100).toFixed(3)} % of a container start (p50 ${(start * 1000).toFixed(2)} ms) |`,
  );
  console.log(
    `| the same: wall time (the event loop's, it reads synchronously) | ${m.us.toFixed(1)} µs | ${((m.us / 1e6 / start) * 100).toFixed(3)} % of a container start |`,
  );
  console.log(
    `| exporter CPU per start, reading bundles − not reading (median of ${rounds} bursts of ${containers}) | ${(perStart * 1e6).toFixed(0)} µs | ${((perStart / start) * 100).toFixed(2)} % of a container start |`,
  );
  console.log(
    `| exporter CPU per burst: reading / not reading | ${(median(cpu.reading) * 1000).toFixed(0)} / ${(median(cpu.notReading) * 1000).toFixed(0)} ms | ratio ${(median(cpu.reading) / Math.max(median(cpu.notReading), 0.01)).toFixed(2)} |`,
  );
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
