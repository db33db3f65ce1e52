// The performance check CI runs every time (.ci/run): a short run of what BENCHMARKS.md's top rows
// measure, each figure a ratio to a baseline measured in the same run and rounds, failing where one
// crosses its limit. The limits sit above today's figures by more than this two-vCPU machine's noise
// (BENCHMARKS.md has the runs they came from), so a regression fails the change that makes it and
// noise does not:
//  - exporter CPU per 1 s sample, every default collector, on a TABLE-mount table replaced twice a
//    second, ÷ the kernel's read of the same table's text (what `cat` costs);
//  - the same on the same table kept quiet, and how often the quiet table was read (exact: the change
//    watch reads it only every 60 s);
//  - the exporter's RSS after those rounds ÷ a bare Node HTTP server's, started in the same run.
// One exporter (`mountstorm serve --mount.pid=self`, defaults) in a private mount + PID namespace
// holding the table; ROUNDS rounds, each a quiet then a changing window of SECONDS s, after a warm-up.
// usage (root, after npm run build): node dist/bench/smoke.js [table=20000] [rounds=3] [seconds=8]
// Exits 1 when a figure is over its limit; prints "smoke: N passed, N failed".
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from '../test/support/env';
import { metricSum, rerunInPrivateNamespaces, sleep, started, stopProcess, threadCpuSeconds } from './proc';
import { median } from './stats';
import { bigTable, kernelRead, mountCount } from './table';

const args = process.argv.slice(2).filter((a) => a !== '--inner');
const table = Number(args[0] ?? 20_000);
const rounds = Number(args[1] ?? 3);
const seconds = Number(args[2] ?? 8);
const WARM_S = 20;
const CLI = path.join(REPO, 'dist/src/cli.js');

/**
 * The limits, each with today's figures beside it (2026-12-07, local, 20k mounts, runs of this build
 * alternating with the build before, ca0e464). A text reading every sample (+1 kernel read per
 * sample) would cross the CPU ones; a listmount reading every sample costs too little to (0.18× →
 * 0.30× quiet), and the exact read count catches it.
 */
const LIMITS = {
  /**
   * Today 0.35–0.44× on the KVM machine (a fresh exporter's first round up to 0.60×); the target is
   * below 0.5× (issue #32). On the second machine of 2026-12-07 (a guest whose syscalls and wakeups
   * cost more: `pti=on`, ~1.4 µs a getppid from Python, the kernel's read of 20k mounts 18 ms) the
   * same build's rounds were 0.75–1.78× (medians 0.91×, 1.47×), quiet 0.40–0.89×: the ratio moves
   * with the machine as much as with the code. So the limit is one no such machine crosses by
   * chance: it catches a sample that costs twice the kernel's read. A text reading every sample
   * (+1× on any machine: the baseline is that read) is the quiet limit's and the read count's to
   * catch. The table's size read every 10 ms while it merely changes (ca0e464: 0.84×, 0.68×, 0.62×,
   * 0.50× on the KVM machine) is no longer caught here: BENCHMARKS.md's runs against the build
   * before, alternating in one run, are what show it.
   */
  changingPerKernelRead: 2.0,
  /**
   * Today 0.20–0.24× on the KVM machine (0.13–0.18× on 2026-12-06), 0.40–0.89× on the second
   * machine of 2026-12-07: the quiet table is not read. A text reading every sample adds 1×.
   */
  quietPerKernelRead: 1.1,
  /**
   * Exact, not timed: the change watch reads a quiet table only every 60 s (its safety net); one
   * read a sample is the regression this check is for.
   */
  quietReadsPerSample: 0.25,
  /**
   * Today 1.86–1.91× (79.9–81.7 MiB against 42.8 MiB), two worker threads; the target is 60 MiB,
   * about 1.4× (issue #32). A third worker thread (an isolate: 7.2 MiB, 2.07×) crosses it.
   */
  rssPerBareNode: 2.05,
};

rerunInPrivateNamespaces(__filename, args);

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]) / 1024;
}

(async () => {
  const t = bigTable(table);
  const port = 19_950;
  const url = `http://127.0.0.1:${port}`;
  const exp = spawn(
    process.execPath,
    [CLI, 'serve', `--web.listen-address=127.0.0.1:${port}`, '--mount.pid=self', '--sample.interval=1s'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const bare = spawn(
    process.execPath,
    ['-e', "require('node:http').createServer((q, s) => s.end('ok')).listen(0, () => console.log('up'))"],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const ratios = { changing: [] as number[], quiet: [] as number[] };
  const quietReads = { reads: 0, samples: 0 };
  let rss: { exporter: number; bare: number } | undefined;
  const mounts = mountCount();
  try {
    await started(exp, /msg=listening/);
    await started(bare, /up/);
    await sleep(WARM_S * 1000);
    /** CPU per sample over a window, ÷ the kernel's read of the table measured around it; the table's reads. */
    const window = async (): Promise<{ ratio: number; reads: number; samples: number }> => {
      const kernel = [kernelRead(), kernelRead(), kernelRead()];
      const c0 = threadCpuSeconds(exp.pid as number);
      const s0 = await metricSum(url, 'mountstorm_samples_total');
      const r0 = await metricSum(url, 'mountstorm_mount_table_reads_total');
      await sleep(seconds * 1000);
      const c = threadCpuSeconds(exp.pid as number) - c0;
      const samples = (await metricSum(url, 'mountstorm_samples_total')) - s0;
      const reads = (await metricSum(url, 'mountstorm_mount_table_reads_total')) - r0;
      kernel.push(kernelRead(), kernelRead(), kernelRead());
      return { ratio: c / Math.max(samples, 1) / median(kernel), reads, samples };
    };
    for (let r = 0; r < rounds; r++) {
      const quiet = await window();
      ratios.quiet.push(quiet.ratio);
      quietReads.reads += quiet.reads;
      quietReads.samples += quiet.samples;
      const churn = t.churn(2);
      try {
        ratios.changing.push((await window()).ratio);
      } finally {
        churn.stop();
      }
      // The last change read before the next quiet window begins.
      await sleep(2000);
      process.stderr.write(
        `round ${r + 1}: quiet ${ratios.quiet.at(-1)?.toFixed(2)}×, changing ${ratios.changing.at(-1)?.toFixed(2)}× the kernel's read\n`,
      );
    }
    rss = { exporter: rssMiB(exp.pid as number), bare: rssMiB(bare.pid as number) };
  } finally {
    await stopProcess(exp);
    await stopProcess(bare);
    t.remove();
  }
  if (!rss) throw new Error('no RSS read');
  const figures = [
    {
      name: `exporter CPU per sample ÷ the kernel's read, changing table (median of ${rounds} rounds)`,
      value: median(ratios.changing),
      limit: LIMITS.changingPerKernelRead,
      unit: '×',
    },
    {
      name: `exporter CPU per sample ÷ the kernel's read, quiet table (median of ${rounds} rounds)`,
      value: median(ratios.quiet),
      limit: LIMITS.quietPerKernelRead,
      unit: '×',
    },
    {
      name: `table reads per sample, quiet table (${quietReads.reads} in ${quietReads.samples} samples)`,
      value: quietReads.reads / Math.max(quietReads.samples, 1),
      limit: LIMITS.quietReadsPerSample,
      unit: '',
    },
    {
      name: `RSS ÷ a bare Node HTTP server's (${rss.exporter.toFixed(1)} / ${rss.bare.toFixed(1)} MiB)`,
      value: rss.exporter / rss.bare,
      limit: LIMITS.rssPerBareNode,
      unit: '×',
    },
  ];
  console.log(
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}; ${mounts} mounts`,
  );
  console.log(`Command: node dist/bench/smoke.js ${table} ${rounds} ${seconds}`);
  let failed = 0;
  for (const f of figures) {
    const ok = f.value <= f.limit;
    if (!ok) failed++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${f.name}: ${f.value.toFixed(2)}${f.unit} (limit ${f.limit}${f.unit})`);
  }
  console.log(`smoke: ${figures.length - failed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
