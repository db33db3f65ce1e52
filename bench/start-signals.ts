// What each start signal costs per container start, on real podman starts (Debian's podman and runc,
// on test/support/podman.ts's private node: its containers/storage on tmpfs at the default paths).
// Three exporters watch the same bursts from the node's mount namespace, 1 s samples, tracing off:
//  - runtime: the runtimes' records (containers/storage watched, each config.json read), with the
//    namespaces collector off;
//  - kernel: no runtime directory, so starts are new mount namespaces (the namespace walk), with the
//    namespaces collector on;
//  - baseline: no runtime directory and the namespaces collector off.
// Per round, a burst of STARTS podman starts by LOOPS clients at a time, each container running 2 s
// (long enough for a walk to find its namespace), then 3 s for the last samples. Reported: each
// signal's CPU above the baseline's (every thread, schedstat) per start, the median over ROUNDS;
// and what each counted of the starts.
// usage (root, after npm run build): node dist/bench/start-signals.js [rounds=5] [starts=40] [loops=4]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildImage } from '../test/support/containerd';
import { startExporter, type RunningExporter } from '../test/support/exporter';
import { RUN_FLAGS, startPodmanNode } from '../test/support/podman';
import { sum } from '../test/support/metrics';
import { median } from './stats';
import { sleep, threadCpuSeconds } from './proc';

const args = process.argv.slice(2);
const rounds = Number(args[0] ?? 5);
const starts = Number(args[1] ?? 40);
const loops = Number(args[2] ?? 4);
const IMAGE = 'localhost/mountstorm/bench-starts:1';

const ARMS = {
  runtime: ['--no-collector.namespaces'],
  kernel: ['--collector.containers.task-dir=/nonexistent', '--collector.containers.storage-dir=/nonexistent'],
  baseline: [
    '--collector.containers.task-dir=/nonexistent',
    '--collector.containers.storage-dir=/nonexistent',
    '--no-collector.namespaces',
  ],
} as const;
type Arm = keyof typeof ARMS;

/** What an arm counts as starts: the runtimes' records, or the kernel's new mount namespaces. */
const COUNTED: Record<Arm, string | undefined> = {
  runtime: 'mountstorm_container_starts_total',
  kernel: 'mountstorm_mount_namespaces_created_total',
  baseline: undefined,
};

(async () => {
  if (process.getuid?.() !== 0) throw new Error('run as root (podman, private mount namespaces)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-start-signals-'));
  const node = await startPodmanNode();
  const exporters = new Map<Arm, RunningExporter>();
  const cpu = new Map<Arm, number[]>();
  const counted = new Map<Arm, number[]>();
  const took: number[] = [];
  try {
    await buildImage(path.join(dir, 'image.tar'), 5, IMAGE, ['/bin/sleep', '2']);
    await node.load(path.join(dir, 'image.tar'), IMAGE);
    // One container first, so the run root's overlay-containers exists and both roots are watched.
    await node.podman(['run', '--rm', ...RUN_FLAGS, IMAGE, '/bin/true']);
    for (const [arm, extra] of Object.entries(ARMS) as [Arm, readonly string[]][]) {
      const exp = await startExporter(['--sample.interval=1s', '--no-collector.tracefs', ...extra], {
        mountNamespaceOf: node.pid,
      });
      exporters.set(arm, exp);
      cpu.set(arm, []);
      counted.set(arm, []);
    }
    for (const exp of exporters.values()) await exp.waitSamples(3);
    for (let r = 0; r < rounds; r++) {
      const before = new Map<Arm, { cpu: number; count: number }>();
      for (const [arm, exp] of exporters) {
        const m = await exp.metrics();
        const name = COUNTED[arm];
        before.set(arm, { cpu: threadCpuSeconds(exp.pid), count: name ? sum(m, name) : 0 });
      }
      let left = starts;
      const loop = async () => {
        while (left-- > 0) {
          const t = process.hrtime.bigint();
          await node.podman(['run', '--rm', ...RUN_FLAGS, IMAGE]);
          // A start's own time: `podman run` less the 2 s the container runs.
          took.push(Number(process.hrtime.bigint() - t) / 1e9 - 2);
        }
      };
      await Promise.all(Array.from({ length: loops }, loop));
      await sleep(3000);
      const line: string[] = [];
      for (const [arm, exp] of exporters) {
        const b = before.get(arm) as { cpu: number; count: number };
        const used = threadCpuSeconds(exp.pid) - b.cpu;
        const name = COUNTED[arm];
        const n = name ? sum(await exp.metrics(), name) - b.count : 0;
        cpu.get(arm)?.push(used);
        counted.get(arm)?.push(n);
        line.push(`${arm} ${(used * 1000).toFixed(0)} ms${name ? `, counted ${n}` : ''}`);
      }
      process.stderr.write(`round ${r + 1}: ${starts} starts; ${line.join('; ')}\n`);
    }
  } finally {
    for (const exp of exporters.values()) await exp.stop();
    await node.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const base = cpu.get('baseline') as number[];
  const perStart = (arm: Arm) => median((cpu.get(arm) as number[]).map((c, i) => (c - (base[i] as number)) / starts));
  console.log(
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}`,
  );
  console.log(`Command: node dist/bench/start-signals.js ${rounds} ${starts} ${loops}`);
  const start = median(took);
  console.log(
    `A podman start (\`podman run --rm\` less the container's 2 s), median: ${(start * 1000).toFixed(0)} ms wall, ${loops} at a time`,
  );
  console.log('');
  console.log(
    '| start signal | exporter CPU per start above the baseline | of a start | starts counted per start | CPU per burst (baseline) |',
  );
  console.log('|---|---|---|---|---|');
  for (const arm of ['runtime', 'kernel'] as const)
    console.log(
      `| ${arm} | ${(perStart(arm) * 1e6).toFixed(0)} µs | ${((perStart(arm) / start) * 100).toFixed(2)} % | ${(median(counted.get(arm) as number[]) / starts).toFixed(2)} | ${(median(cpu.get(arm) as number[]) * 1000).toFixed(0)} ms (${(median(base) * 1000).toFixed(0)} ms) |`,
    );
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
