// The quiet node's tax, paired so that it cannot hide in noise (#32): one exporter on its defaults,
// started as a node would (a mount namespace of its own, the host's PID namespace, watching PID 1),
// settled, then ROUNDS rounds of the neighbour's getppid() loop (bench/c/getppid-loop.c) timed twice:
// with the exporter running, and with it frozen (SIGSTOP: none of its threads runs, wakes or holds a
// timer; its memory stays). The order alternates by round. After each SIGCONT the exporter gets
// SETTLE_MS to take the sample it missed, so a running arm times its steady state, not the catch-up.
// quiet-node.ts starts and stops an exporter per arm; here the two arms of a round are seconds
// apart on the same exporter, so the machine's drift cancels within each pair.
// Reported: ns per call (median), running ÷ frozen per round (median, and mean with a 95 % interval),
// and the exporter's CPU per second while the loop ran.
// usage (root, after npm run build): node dist/bench/quiet-paired.js [rounds=60] [calls=5000000]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { median, meanCi } from './stats';
import { REPO } from '../test/support/env';
import { cpuSeconds, firstChild, serveInNamespace, sleep } from './proc';

const [rounds = 60, calls = 5_000_000] = process.argv.slice(2).map(Number);
const SETTLE_MS = 1500;
const cli = path.join(REPO, 'dist/src/cli.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-quiet-'));
const loop = path.join(dir, 'getppid-loop');
execFileSync('gcc', ['-O2', '-o', loop, path.join(REPO, 'bench/c/getppid-loop.c')]);

const time = (): number => Number(execFileSync(loop, [String(calls)], { encoding: 'utf8' }));

(async () => {
  const exp = serveInNamespace(cli, ['--web.listen-address=127.0.0.1:19878']);
  let log = '';
  exp.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const running: number[] = [];
  const frozen: number[] = [];
  const ratio: number[] = [];
  const cpu: number[] = [];
  try {
    for (let i = 0; !/msg="tracefs: tracing mount syscalls"/.test(log); i++) {
      if (i > 300) throw new Error(`the exporter did not start tracefs:\n${log}`);
      await sleep(50);
    }
    await sleep(5000);
    const node = firstChild(exp.pid as number) as number;
    for (let r = 0; r < rounds; r++) {
      const got: { running?: number; frozen?: number } = {};
      for (const arm of r % 2 === 0 ? (['running', 'frozen'] as const) : (['frozen', 'running'] as const)) {
        if (arm === 'frozen') {
          process.kill(node, 'SIGSTOP');
          await sleep(100);
          got.frozen = time();
          process.kill(node, 'SIGCONT');
          await sleep(SETTLE_MS);
        } else {
          const c0 = cpuSeconds(node);
          const t0 = process.hrtime.bigint();
          got.running = time();
          cpu.push((cpuSeconds(node) - c0) / (Number(process.hrtime.bigint() - t0) / 1e9));
        }
      }
      running.push(got.running as number);
      frozen.push(got.frozen as number);
      ratio.push((got.running as number) / (got.frozen as number));
      process.stderr.write(
        `round ${r + 1}: running ${got.running?.toFixed(1)} ns, frozen ${got.frozen?.toFixed(1)} ns, ${ratio[r]?.toFixed(4)}\n`,
      );
    }
    if (/tracefs: armed/.test(log))
      throw new Error('the exporter armed tracing on what should be a quiet node:\n' + log);
    process.kill(node, 'SIGTERM');
    await new Promise((r) => exp.on('exit', r));
  } catch (err) {
    exp.kill('SIGKILL');
    throw err;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const { mean, half } = meanCi(ratio);
  console.log(
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}`,
  );
  console.log(`Command: node dist/bench/quiet-paired.js ${rounds} ${calls}`);
  console.log('');
  console.log(
    '| exporter | getppid() ns per call (median) | running ÷ frozen (median) | running ÷ frozen (mean ± 95 %) | exporter CPU while the loop ran |',
  );
  console.log('|---|---|---|---|---|');
  console.log(`| frozen (SIGSTOP) | ${median(frozen).toFixed(1)} | – | – | 0 |`);
  console.log(
    `| running, defaults | ${median(running).toFixed(1)} | ${median(ratio).toFixed(4)} | ${mean.toFixed(4)} ± ${half.toFixed(4)} | ${(median(cpu) * 1e3).toFixed(1)} ms/s |`,
  );
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
