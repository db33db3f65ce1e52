// What one 1 s sample of the whole exporter costs on a big, changing table, by collector: the
// exporter as a node runs it (`mountstorm serve`, every default collector, tracing on demand and
// never armed here), in a private mount + PID namespace holding TABLE bind mounts, one of them
// replaced by an identical one twice a second (a node where pods come and go). Against the kernel's
// own cost of producing the same mountinfo text (the CPU of reading it whole: what `cat` costs),
// measured in the same rounds.
//
// Arms, interleaved in an order that turns each round: every default collector on, and each one off
// in turn (--no-collector.X): what a collector costs is the defaults' CPU less that arm's. Each arm
// is a fresh exporter, warmed for WARM s (its first walk and the JIT), then measured over SECONDS s:
// the CPU of every thread (schedstat) per sample taken.
// usage (root, after npm run build): node dist/bench/sample-cost.js [table=20000] [rounds=3] [seconds=20] [warm=10]
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from '../test/support/env';
import { metricSum, rerunInPrivateNamespaces, sleep, started, stopProcess, threadCpuSeconds } from './proc';
import { median } from './stats';
import { bigTable, kernelRead, mountCount } from './table';

const args = process.argv.slice(2).filter((a) => a !== '--inner');
const table = Number(args[0] ?? 20_000);
const rounds = Number(args[1] ?? 3);
const seconds = Number(args[2] ?? 20);
const warm = Number(args[3] ?? 10);
const CLI = path.join(REPO, 'dist/src/cli.js');

rerunInPrivateNamespaces(__filename, args);

const COLLECTORS = ['mounts', 'namespaces', 'probes', 'containers', 'cpu', 'host', 'tracefs'] as const;
const ARMS: Array<{ name: string; flags: string[] }> = [
  { name: 'defaults', flags: [] },
  ...COLLECTORS.map((c) => ({ name: `no ${c}`, flags: [`--no-collector.${c}`] })),
];

const table_ = bigTable(table);

async function measure(flags: string[], port: number): Promise<number> {
  const p = spawn(
    process.execPath,
    [CLI, 'serve', `--web.listen-address=127.0.0.1:${port}`, '--mount.pid=self', '--sample.interval=1s', ...flags],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await started(p, /msg=listening/);
    await sleep(warm * 1000);
    const c0 = threadCpuSeconds(p.pid as number);
    const s0 = await metricSum(url, 'mountstorm_samples_total');
    await sleep(seconds * 1000);
    const c = threadCpuSeconds(p.pid as number) - c0;
    const s = (await metricSum(url, 'mountstorm_samples_total')) - s0;
    return c / Math.max(s, 1);
  } finally {
    await stopProcess(p);
  }
}

(async () => {
  // Twice a second, one mount replaced by an identical one: the table changes, its size does not.
  const flipper = table_.churn(2);
  const per = new Map<string, number[]>(ARMS.map((a) => [a.name, []]));
  const kernel: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < ARMS.length; k++) {
        const arm = ARMS[(r + k) % ARMS.length] as (typeof ARMS)[number];
        const cost = await measure(arm.flags, 19_900 + k);
        per.get(arm.name)?.push(cost);
        for (let i = 0; i < 5; i++) kernel.push(kernelRead());
        process.stderr.write(`round ${r + 1}: ${arm.name} ${(cost * 1000).toFixed(2)} ms per sample\n`);
      }
    }
  } finally {
    flipper.stop();
  }
  const cat = median(kernel);
  const all = median(per.get('defaults') as number[]);
  const mounts = mountCount();
  console.log(
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}`,
  );
  console.log(`Command: node dist/bench/sample-cost.js ${table} ${rounds} ${seconds} ${warm}`);
  console.log(
    `Table: ${mounts} mounts, one replaced twice a second; the kernel's read of it: ${(cat * 1000).toFixed(2)} ms CPU`,
  );
  console.log('');
  console.log(
    "| arm | exporter CPU per sample (median of rounds) | ÷ the kernel's read | the collector's share (defaults − arm) |",
  );
  console.log('|---|---|---|---|');
  for (const a of ARMS) {
    const v = median(per.get(a.name) as number[]);
    const share = a.name === 'defaults' ? '—' : `${((all - v) * 1000).toFixed(2)} ms`;
    console.log(`| ${a.name} | ${(v * 1000).toFixed(2)} ms | ${(v / cat).toFixed(2)}× | ${share} |`);
  }
  table_.remove();
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
