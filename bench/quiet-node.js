#!/usr/bin/env node
// What the exporter costs its neighbours on a quiet node: a syscall-heavy process (a C loop of
// getppid(), bench/c/getppid-loop.c, compiled here with the machine's gcc) timed with the exporter
// stopped, running with its defaults (tracing on demand: disarmed on a quiet node), and running with
// --collector.tracefs.mode=always (the syscall tracepoints enabled host-wide, as before). Each round
// runs the three arms in rotating order; each arm starts the exporter as a node would (a mount
// namespace of its own, the host's PID namespace, watching PID 1), lets it settle, then times the
// loop. Reported: ns per call (median of rounds), each arm ÷ stopped (median of the rounds' ratios,
// and their mean with a 95 % interval), and the exporter's own CPU per second while the loop ran.
// usage (root, after npm run build): node bench/quiet-node.js [rounds=10] [calls=20000000]
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median, meanCi } = require('./stats');

const [rounds = 10, calls = 20_000_000] = process.argv.slice(2).map(Number);
const cli = path.join(__dirname, '../dist/src/cli.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const loop = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-quiet-')), 'getppid-loop');
execFileSync('gcc', ['-O2', '-o', loop, path.join(__dirname, 'c/getppid-loop.c')]);

function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

const ARMS = {
  stopped: undefined,
  defaults: [],
  always: ['--collector.tracefs.mode=always'],
};

async function arm(extra) {
  if (extra === undefined) return { ns: Number(execFileSync(loop, [String(calls)], { encoding: 'utf8' })), cpu: 0 };
  const exp = spawn(
    'unshare',
    [
      '--mount',
      '--fork',
      '--kill-child',
      '--propagation',
      'private',
      process.execPath,
      cli,
      'serve',
      '--web.listen-address=127.0.0.1:19877',
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  exp.stderr.on('data', (d) => (log += d));
  try {
    for (let i = 0; !/msg="tracefs: tracing mount syscalls"/.test(log); i++) {
      if (i > 300) throw new Error(`the exporter did not start tracefs:\n${log}`);
      await sleep(50);
    }
    await sleep(3000);
    const node = Number(fs.readFileSync(`/proc/${exp.pid}/task/${exp.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
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
  const names = Object.keys(ARMS);
  const res = Object.fromEntries(names.map((n) => [n, { ns: [], cpu: [], ratio: [] }]));
  for (let r = 0; r < rounds; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]);
    const got = {};
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
  console.log(`Command: node bench/quiet-node.js ${rounds} ${calls}`);
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
