// What naming tasks from the trace costs a node whose processes come and go (#33): a loop of short
// processes (sh running /bin/true N times: each a fork, an exec and an exit) timed with no exporter,
// with this build's exporter on its defaults (tracing on demand: off on a node without a storm) and
// tracing all the time (--collector.tracefs.mode=always, as during a storm), and with another build's
// tracing all the time (--baseline=DIR). This build records sched_process_fork and task_rename for
// names; builds before 2a01db7 recorded sched_process_exec and task_rename. The arms rotate each
// round. Reported, medians of the rounds: the loop's time ÷ no exporter's in the same round, and the
// exporter's CPU per second (its threads' time on CPU) from the loop's start to a second after its
// end, when the last events are read, beside its own over the 5 s before the loop.
// usage (root, after npm run build): node dist/bench/fork-cost.js [rounds=5] [processes=5000] [--baseline=/path/to/other/checkout]
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { meanCi, median } from './stats';
import { REPO } from '../test/support/env';
import { firstChild, serveInNamespace, sleep, started, threadCpuSeconds } from './proc';

/** Seconds of the exporter's CPU measured before the loop, its own baseline in the same arm. */
const IDLE_S = 5;

const args = process.argv.slice(2);
const baseline = args.find((a) => a.startsWith('--baseline='))?.slice('--baseline='.length);
const [rounds = 5, processes = 5000] = args.filter((a) => !a.startsWith('--')).map(Number);
const LOOP = `i=0; while [ $i -lt ${processes} ]; do /bin/true; i=$((i+1)); done`;

const ALWAYS = ['--collector.tracefs.mode=always'];
const ARMS: Array<{ name: string; cli?: string; flags?: string[] }> = [
  { name: 'no exporter' },
  { name: 'this build, defaults (tracing on demand: off here)', cli: path.join(REPO, 'dist/src/cli.js'), flags: [] },
  { name: 'this build, tracing always', cli: path.join(REPO, 'dist/src/cli.js'), flags: ALWAYS },
  ...(baseline
    ? [{ name: `baseline (${baseline}), tracing always`, cli: path.join(baseline, 'dist/src/cli.js'), flags: ALWAYS }]
    : []),
];

/** The loop's seconds, and the exporter's CPU per second while it ran and over IDLE_S before it (0 with none). */
async function arm(cli: string | undefined, flags: string[] = []): Promise<{ s: number; cpu: number; idle: number }> {
  const timed = () => {
    const t0 = process.hrtime.bigint();
    execFileSync('sh', ['-c', LOOP]);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  if (cli === undefined) return { s: timed(), cpu: 0, idle: 0 };
  const exp = serveInNamespace(cli, ['--web.listen-address=127.0.0.1:19878', ...flags]);
  try {
    await started(exp, /msg="tracefs: tracing mount syscalls"/);
    await sleep(3000);
    const node = firstChild(exp.pid as number) as number;
    const i0 = threadCpuSeconds(node);
    await sleep(IDLE_S * 1000);
    const c0 = threadCpuSeconds(node);
    const s = timed();
    // The events of the loop's last processes are read within a poll.
    await sleep(1000);
    const cpu = (threadCpuSeconds(node) - c0) / (s + 1);
    const idle = (c0 - i0) / IDLE_S;
    const exited = new Promise((r) => exp.once('exit', r));
    process.kill(node, 'SIGTERM');
    await exited;
    return { s, cpu, idle };
  } catch (err) {
    exp.kill('SIGKILL');
    throw err;
  }
}

(async () => {
  const res = ARMS.map(() => ({ s: [] as number[], ratio: [] as number[], cpu: [] as number[], idle: [] as number[] }));
  for (let r = 0; r < rounds; r++) {
    const got: Array<{ s: number; cpu: number; idle: number }> = [];
    for (let k = 0; k < ARMS.length; k++) {
      const i = (k + r) % ARMS.length;
      got[i] = await arm(ARMS[i]?.cli, ARMS[i]?.flags);
    }
    const none = (got[0] as { s: number }).s;
    got.forEach((g, i) => {
      res[i]?.s.push(g.s);
      res[i]?.ratio.push(g.s / none);
      res[i]?.cpu.push(g.cpu);
      res[i]?.idle.push(g.idle);
    });
    process.stderr.write(`round ${r + 1}: ${ARMS.map((a, i) => `${a.name} ${got[i]?.s.toFixed(2)} s`).join(', ')}\n`);
  }
  console.log(
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}`,
  );
  console.log(
    `Command: node dist/bench/fork-cost.js ${rounds} ${processes}${baseline ? ` --baseline=${baseline}` : ''}`,
  );
  console.log('');
  console.log(
    '| exporter | loop time (median) | ÷ no exporter (median of rounds) | ÷ no exporter (mean ± 95 %) | exporter CPU while the loop ran (in the 5 s before it) |',
  );
  console.log('|---|---|---|---|---|');
  ARMS.forEach((a, i) => {
    const x = res[i] as { s: number[]; ratio: number[]; cpu: number[]; idle: number[] };
    const cpu =
      i === 0 ? '–' : `${(median(x.cpu) * 1e3).toFixed(1)} ms/s (${(median(x.idle) * 1e3).toFixed(1)} before)`;
    const { mean, half } = meanCi(x.ratio);
    console.log(
      `| ${a.name} | ${median(x.s).toFixed(2)} s | ${median(x.ratio).toFixed(3)} | ${mean.toFixed(3)} ± ${half.toFixed(3)} | ${cpu} |`,
    );
  });
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
