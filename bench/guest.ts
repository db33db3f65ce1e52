// The chosen defaults on the kernels fleets run: Debian's 6.1 and 6.12 cloud kernels booted under
// qemu-system-x86 (TCG, 2 vCPUs; test/support/guest.ts, the guest tier's), the exporter on its
// defaults inside. Per kernel, in one boot: onset to page on the node's own evaluator for STORMS
// per-layer drills (unpaced, 8 threads, each container a bundle in containerd's task directory:
// seconds from the drill command's start to the page in the exporter's log, polled every sample),
// each followed by common-parent churn at the start rate it reached (pages or not); then the
// quiet-node tax: a getppid() loop (bench/c/getppid-loop.c) with the exporter stopped, on its
// defaults, and with tracing always on, ROUNDS rounds in rotating order. Absolute times under TCG are
// not the host's: compare within a kernel.
// usage (root, after npm run build and scripts/fetch-kernels.sh):
//   node dist/bench/guest.js [rounds=6] [million-calls=2] [storms=2]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from '../test/support/env';
import { bootGuest, guestKernels } from '../test/support/guest';
import { meanCi, median } from './stats';

const [rounds = 6, millionCalls = 2, storms = 2] = process.argv.slice(2).map(Number);
const loop = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-guest-bench-')), 'getppid-loop');
execFileSync('gcc', ['-O2', '-o', loop, path.join(REPO, 'bench/c/getppid-loop.c')]);

interface Scenario {
  name: string;
  page?: string;
  pageAfterSeconds?: number;
  load?: { report?: { containers: number; wallSeconds: number } };
  results?: Array<{ arm: string; round: number; ns: number; armed: boolean }>;
}

(async () => {
  const rows: string[] = [];
  for (const [series, kernel] of [...guestKernels()].sort()) {
    const args = ['20', String(millionCalls)];
    for (let i = 0; i < storms; i++) args.push('per-layer', 'common-parent');
    args.push(`tax:${rounds}`);
    const run = await bootGuest(kernel, args, 1_800_000, { '/opt/getppid-loop': loop });
    if (run.status !== 0) throw new Error(`${kernel.release}: the guest failed:\n${run.console.slice(-3000)}`);
    const scenarios = run.lines.filter((l) => l.kind === 'scenario') as unknown as Scenario[];
    const rate = (s: Scenario) => (s.load?.report ? s.load.report.containers / s.load.report.wallSeconds : NaN);
    const pages = scenarios.filter((s) => s.name === 'per-layer');
    const churn = scenarios.filter((s) => s.name === 'common-parent');
    const tax = scenarios.find((s) => s.name === 'tax')?.results ?? [];
    const ns = (arm: string) => tax.filter((r) => r.arm === arm).sort((a, b) => a.round - b.round);
    const ratios = (arm: string) => ns(arm).map((r, i) => r.ns / (ns('stopped')[i]?.ns ?? NaN));
    const fmt = (arm: string) => {
      const { mean, half } = meanCi(ratios(arm));
      return `${median(ratios(arm)).toFixed(3)} (mean ${mean.toFixed(3)} ± ${half.toFixed(3)})`;
    };
    rows.push(
      `| ${series} (${kernel.release}) | ${pages.map((p) => (p.pageAfterSeconds === undefined ? 'no page' : `${p.pageAfterSeconds.toFixed(1)} s`)).join(', ')} at ${pages.map((p) => rate(p).toFixed(1)).join(', ')} starts/s | ${churn.map((c) => (c.page ? 'paged' : 'silent')).join(', ')} at ${churn.map((c) => rate(c).toFixed(1)).join(', ')} starts/s | ${median(ns('stopped').map((r) => r.ns)).toFixed(1)} ns | ${fmt('defaults')}${ns('defaults').some((r) => r.armed) ? ' (armed in a round!)' : ''} | ${fmt('always')} |`,
    );
    process.stderr.write(`${rows[rows.length - 1]}\n`);
  }
  console.log(
    `Host: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}`,
  );
  console.log(`Guests: qemu-system-x86_64 TCG, 2 vCPUs, 2 GiB`);
  console.log(`Command: node dist/bench/guest.js ${rounds} ${millionCalls} ${storms}`);
  console.log('');
  console.log(
    '| kernel | per-layer drill: onset to page (node evaluator) | common-parent at its rate | getppid() ns per call, exporter stopped (median) | ÷ stopped, defaults (median; mean ± 95 %) | ÷ stopped, tracing always on |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
