// What the exporter costs its neighbours on a quiet node: a syscall-heavy process (a C loop of
// getppid(), bench/c/getppid-loop.c, compiled here with the machine's gcc) timed with the exporter
// stopped, running with its defaults (tracing on demand: disarmed on a quiet node), and running with
// --collector.tracefs.mode=always (the syscall tracepoints enabled host-wide, as before). Each round
// runs the three arms in rotating order; each arm starts the exporter as a node would (a mount
// namespace of its own, the host's PID namespace, watching PID 1), lets it settle, then times the
// loop. Reported: ns per call (median of rounds), each arm ÷ stopped (median of the rounds' ratios,
// and their mean with a 95 % interval), and the exporter's own CPU per second while the loop ran.
// usage (root, after npm run build): node dist/bench/quiet-node.js [rounds=10] [calls=20000000]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { median, meanCi } from './stats';
import { REPO } from '../test/support/env';
import { cpuSeconds, firstChild, serveInNamespace, sleep } from './proc';

const [rounds = 10, calls = 20_000_000] = process.argv.slice(2).map(Number);
const cli = path.join(REPO, 'dist/src/cli.js');
const loop = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-quiet-')), 'getppid-loop');
execFileSync('gcc', ['-O2', '-o', loop, path.join(REPO, 'bench/c/getppid-loop.c')]);

type ArmName = 'stopped' | 'defaults' | 'always';
const ARMS: Record<ArmName, string[] | undefined> = {
  stopped: undefined,
  defaults: [],
  always: ['--collector.tracefs.mode=always'],
};

async function arm(extra: string[] | undefined): Promise<{ ns: number; cpu: number }> {
  if (extra === undefined) return { ns: Number(execFileSync(loop, [String(calls)], { encoding: 'utf8' })), cpu: 0 };
  const exp = serveInNamespace(cli, ['--web.listen-address=127.0.0.1:19877', ...extra]);
  let log = '';
  exp.stderr.on('data', (d: Buffer) => (log += d.toString()));
  try {
    for (let i = 0; !/msg="tracefs: tracing mount syscalls"/.test(log); i++) {
      if (i > 300) throw new Error(`the exporter did not start tracefs:\n${log}`);
      await sleep(50);
    }
    await sleep(3000);
    const node = firstChild(exp.pid as number) as number;
    const c0 = cpuSeconds(node);
    const t0 = process.hrtime.bigint();
    const ns = Number(execFileSync(loop, [String(calls)], { encoding: 'utf8' }));
    const cpu = (cpuSeconds(node) - c0) / (Number(process.hrtime.bigint() - t0) / 1e9);
    if (/tracefs: armed/.test(log))
      throw new Error('the exporter armed tracing on what should be a quiet node:\n' + log);
    process.kill(node, 'SIGTERM');
    await new Promise((r) => exp.on('exit', r));
    return { ns, cpu };
  } catch (err) {
    exp.kill('SIGKILL');
    throw err;
  }
}

(async () => {
  const names = Object.keys(ARMS) as ArmName[];
  type Series = { ns: number[]; cpu: number[]; ratio: number[] };
  const res = Object.fromEntries(names.map((n): [ArmName, Series] => [n, { ns: [], cpu: [], ratio: [] }])) as Record<
    ArmName,
    Series
  >;
  for (let r = 0; r < rounds; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length] as ArmName);
    const got = {} as Record<ArmName, { ns: number; cpu: number }>;
    for (const n of order) got[n] = await arm(ARMS[n]);
    for (const n of names) {
      res[n].ns.push(got[n].ns);
      res[n].cpu.push(got[n].cpu);
      res[n].ratio.push(got[n].ns / got.stopped.ns);
    }
    process.stderr.write(`round ${r + 1}: ${names.map((n) => `${n} ${got[n].ns.toFixed(1)} ns`).join(', ')}\n`);
  }
  console.log(
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}`,
  );
  console.log(`Command: node dist/bench/quiet-node.js ${rounds} ${calls}`);
  console.log('');
  console.log(
    '| exporter | getppid() ns per call (median) | ÷ stopped (median) | ÷ stopped (mean ± 95 %) | exporter CPU while the loop ran |',
  );
  console.log('|---|---|---|---|---|');
  for (const n of names) {
    const { mean, half } = meanCi(res[n].ratio);
    console.log(
      `| ${n} | ${median(res[n].ns).toFixed(1)} | ${median(res[n].ratio).toFixed(3)} | ${mean.toFixed(3)} ± ${half.toFixed(3)} | ${n === 'stopped' ? '–' : `${(median(res[n].cpu) * 1e3).toFixed(1)} ms/s`} |`,
    );
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
