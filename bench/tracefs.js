#!/usr/bin/env node
// What the tracefs collector costs, and how fast its parser is. Two figures, each with a baseline
// measured in the same run:
//  1. Overhead: a fixed `mountstorm storm` run R times in each of four arms, interleaved
//     (no exporter | exporter without tracefs | exporter with tracefs, 1 s sampling | the same
//     tracepoints enabled in an instance nobody reads: the kernel's recording cost, a floor no
//     reader can beat); the median storm throughput of each arm ÷ the no-exporter arm.
//  2. Parser: trace_pipe lines/s the aggregator sustains on the captured fixture (repeated to
//     ~1M lines), against the peak event rate tracefs reported during the storms above.
// usage (root, after npm run build): node bench/tracefs.js [rounds] [containers] [layers] [concurrency]
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { TraceAggregator } = require('../dist/src/tracefs/aggregate');
const { LATENCY_BUCKETS } = require('../dist/src/exposition');

const rounds = Number(process.argv[2] ?? 7);
const containers = process.argv[3] ?? '100';
const layers = process.argv[4] ?? '50';
const concurrency = process.argv[5] ?? '8';
const cli = path.join(__dirname, '../dist/src/cli.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

async function startExporter(extra) {
  // Own mount + PID namespace, as the tests run it: tracefs gets mounted there if the host has none.
  const p = spawn('unshare', ['--mount', '--pid', '--fork', '--kill-child', '--propagation', 'private', '--mount-proc', process.execPath, cli, 'serve', '--web.listen-address=127.0.0.1:19867', '--sample.interval=1s', '--no-collector.containers', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  p.stderr.on('data', (d) => (log += d));
  for (let i = 0; i < 100 && !/msg=listening/.test(log); i++) await sleep(50);
  await sleep(1500);
  return {
    metrics: async () => (await fetch('http://127.0.0.1:19867/metrics')).text(),
    stop: async () => {
      const kid = Number(fs.readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
      process.kill(kid, 'SIGTERM');
      await new Promise((r) => p.on('exit', r));
    },
  };
}

/** The exporter's tracepoints enabled in an instance of a helper that never reads it. */
async function startUnreadInstance() {
  const script = `
    const { locateTracefs, TraceInstance } = require(${JSON.stringify(path.join(__dirname, '../dist/src/tracefs/instance'))});
    const { HostPaths } = require(${JSON.stringify(path.join(__dirname, '../dist/src/fs/paths'))});
    const { Logger } = require(${JSON.stringify(path.join(__dirname, '../dist/src/log'))});
    const inst = TraceInstance.create(locateTracefs(new HostPaths(), undefined), { bufferSizeKb: 512, log: new Logger('error') });
    process.stdout.write('ready\\n');
    process.on('SIGTERM', () => process.exit(0));
    setInterval(() => {}, 1000);`;
  const p = spawn('unshare', ['--mount', '--propagation', 'private', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => { p.stdout.once('data', resolve); p.once('exit', (c) => reject(new Error(`unread-instance helper exited ${c}`))); });
  return { stop: async () => { p.kill('SIGTERM'); await new Promise((r) => p.on('exit', r)); } };
}

function storm() {
  const out = execFileSync(process.execPath, [cli, 'storm', '--json', '--no-progress', `--containers=${containers}`, `--layers=${layers}`, `--concurrency=${concurrency}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out);
}

const metric = (text, name) => {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
};

(async () => {
  const arms = { none: [], 'exporter, no tracefs': [], 'exporter + tracefs': [], 'tracepoints on, not read (floor)': [] };
  let peakEventsPerSec = 0;
  storm(); // warm-up
  for (let r = 0; r < rounds; r++) {
    arms.none.push(storm().operationsPerSecond);
    let e = await startExporter(['--no-collector.tracefs']);
    arms['exporter, no tracefs'].push(storm().operationsPerSecond);
    await e.stop();
    e = await startExporter([]);
    const before = metric(await e.metrics(), 'mountstorm_trace_events_total');
    const t0 = process.hrtime.bigint();
    const rep = storm();
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    arms['exporter + tracefs'].push(rep.operationsPerSecond);
    await sleep(1500);
    const events = metric(await e.metrics(), 'mountstorm_trace_events_total') - before;
    peakEventsPerSec = Math.max(peakEventsPerSec, events / Math.max(rep.wallSeconds, 1e-3));
    await e.stop();
    void secs;
    const u = await startUnreadInstance();
    arms['tracepoints on, not read (floor)'].push(storm().operationsPerSecond);
    await u.stop();
  }

  const fixture = fs.readFileSync(path.join(__dirname, '../test/fixtures/tracefs/trace_pipe.txt'), 'utf8');
  const reps = Math.ceil(1_000_000 / fixture.split('\n').length);
  const text = fixture.repeat(reps);
  const lines = fixture.split('\n').length * reps;
  const parseRuns = [];
  for (let i = 0; i < 5; i++) {
    const a = new TraceAggregator({ buckets: LATENCY_BUCKETS, topProcesses: 10, maxInflight: 65536 });
    const t0 = process.hrtime.bigint();
    for (let off = 0; off < text.length; off += 1 << 20) a.feed(text.slice(off, off + (1 << 20)));
    parseRuns.push(lines / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  const parseRate = median(parseRuns);

  const base = median(arms.none);
  console.log(`Machine: ${os.cpus().length} CPUs (${os.cpus()[0].model}), kernel ${os.release()}, node ${process.version}`);
  console.log(`Command: node bench/tracefs.js ${rounds} ${containers} ${layers} ${concurrency}`);
  console.log(`Storm: per-layer-idmap, ${containers} containers × ${layers} layers, concurrency ${concurrency}; ${rounds} interleaved rounds per arm, median`);
  console.log('');
  console.log('| arm | median storm mount ops/s | min | max | ratio to no exporter |');
  console.log('|---|---|---|---|---|');
  for (const [name, v] of Object.entries(arms)) {
    console.log(`| ${name} | ${Math.round(median(v))} | ${Math.round(Math.min(...v))} | ${Math.round(Math.max(...v))} | ${(median(v) / base).toFixed(3)} |`);
  }
  console.log('');
  console.log(`Parser: ${Math.round(parseRate).toLocaleString('en')} trace_pipe lines/s (median of 5 over ${lines.toLocaleString('en')} captured lines); ` +
    `peak event rate during the storms ${Math.round(peakEventsPerSec).toLocaleString('en')}/s → headroom ${(parseRate / Math.max(peakEventsPerSec, 1)).toFixed(1)}×`);
})();
