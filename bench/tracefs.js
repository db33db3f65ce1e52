#!/usr/bin/env node
// What the tracefs collector costs, and how fast its decoders are. Each figure with a baseline
// measured in the same run:
//  1. Interference: a fixed sustained `mountstorm storm` (--duration) run R times in each of five
//     arms, interleaved: no exporter (the baseline) | exporter without tracefs | exporter with
//     tracefs, 1 s sampling, reading the binary trace_pipe_raw pages (the default) | the same
//     reading the trace_pipe text | the same tracepoints enabled in an instance nobody reads (the
//     kernel's recording cost: a floor no reader can beat). Median storm throughput of each arm ÷
//     the no-exporter arm, and the exporter's own CPU (all threads) per second of storm. Every arm
//     first runs a 1 s storm, unmeasured: an exporter has run for days when a storm comes, and its
//     reader's code is compiled by then (the JIT's first pass is not the steady cost).
//  2. Decoders: events/s the raw decoder (captured trace_pipe_raw pages) and the text parser
//     (captured trace_pipe lines) sustain, against the peak event rate seen in the storms above.
// usage (root, after npm run build): node bench/tracefs.js [rounds] [duration] [layers] [concurrency]
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { TraceAggregator } = require('../dist/src/tracefs/aggregate');
const { accountEvent, decodePage, rawLayout, TimeMerge } = require('../dist/src/tracefs/raw');
const { LATENCY_BUCKETS } = require('../dist/src/exposition');

const rounds = Number(process.argv[2] ?? 7);
const duration = process.argv[3] ?? '5s';
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
  const kid = Number(fs.readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  return {
    metrics: async () => (await fetch('http://127.0.0.1:19867/metrics')).text(),
    /** CPU seconds the exporter (every thread) has used. */
    cpu: () => {
      const stat = fs.readFileSync(`/proc/${kid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    },
    stop: async () => {
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
    const inst = TraceInstance.create(locateTracefs(new HostPaths(), undefined), { bufferSizeKb: 512, format: 'raw', log: new Logger('error') });
    process.stdout.write('ready\\n');
    process.on('SIGTERM', () => process.exit(0));
    setInterval(() => {}, 1000);`;
  const p = spawn('unshare', ['--mount', '--propagation', 'private', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => { p.stdout.once('data', resolve); p.once('exit', (c) => reject(new Error(`unread-instance helper exited ${c}`))); });
  return { stop: async () => { p.kill('SIGTERM'); await new Promise((r) => p.on('exit', r)); } };
}

function storm(d = duration) {
  const out = execFileSync(process.execPath, [cli, 'storm', '--json', '--no-progress', `--duration=${d}`, `--layers=${layers}`, `--concurrency=${concurrency}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out);
}

/** The measured storm, after the unmeasured 1 s one. */
function warmStorm() {
  storm('1s');
  return storm();
}

const metric = (text, name) => {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
};

const RAW = 'exporter + tracefs (raw pages, default)';
const TEXT = 'exporter + tracefs (text)';

/** Captured pages and lines (test/fixtures/tracefs), decoded and aggregated over and over: events/s. */
function decoderRates() {
  const dir = path.join(__dirname, '../test/fixtures/tracefs/raw');
  const formats = new Map();
  for (const sys of fs.readdirSync(path.join(dir, 'events'))) for (const ev of fs.readdirSync(path.join(dir, 'events', sys))) formats.set(`${sys}/${ev}`, fs.readFileSync(path.join(dir, 'events', sys, ev, 'format'), 'utf8'));
  const layout = rawLayout(fs.readFileSync(path.join(dir, 'header_page'), 'utf8'), fs.readFileSync(path.join(dir, 'header_event'), 'utf8'), formats);
  const cpus = fs.readdirSync(dir).filter((f) => /^cpu\d+\.raw$/.test(f)).map((f) => [Number(f.slice(3, -4)), fs.readFileSync(path.join(dir, f))]);
  const agg = () => new TraceAggregator({ buckets: LATENCY_BUCKETS, topProcesses: 10, maxInflight: 65536, resolveComm: () => 'x' });
  const raw = [];
  const text = [];
  const lines = fs.readFileSync(path.join(dir, 'trace_pipe.txt'), 'utf8');
  const nLines = lines.split('\n').length - 1;
  for (let i = 0; i < 5; i++) {
    const a = agg();
    const m = new TimeMerge(false);
    let n = 0;
    const t0 = process.hrtime.bigint();
    for (let rep = 0; rep < 500; rep++) {
      for (const [cpu, pages] of cpus) {
        m.startRun();
        for (let off = 0; off < pages.length; off += 4096) decodePage(pages.subarray(off, off + 4096), 4096, cpu, layout, m.pending);
      }
      m.release(0, (b, j) => {
        n++;
        b.ts[j] += rep * 10;
        accountEvent(a, b, j);
      });
    }
    raw.push(n / (Number(process.hrtime.bigint() - t0) / 1e9));
    const t = agg();
    const t1 = process.hrtime.bigint();
    for (let rep = 0; rep < 500; rep++) t.feed(lines);
    text.push((nLines * 500) / (Number(process.hrtime.bigint() - t1) / 1e9));
  }
  return { raw: median(raw), text: median(text) };
}

(async () => {
  const arms = { none: [], 'exporter, no tracefs': [], [RAW]: [], [TEXT]: [], 'tracepoints on, not read (floor)': [] };
  const cpuPerSec = { 'exporter, no tracefs': [], [RAW]: [], [TEXT]: [] };
  let peakEventsPerSec = 0;
  let lostEvents = 0;
  storm(); // warm-up
  const measured = async (arm, args) => {
    const e = await startExporter(args);
    storm('1s');
    const start = await e.metrics();
    const before = metric(start, 'mountstorm_trace_events_total');
    const lost = metric(start, 'mountstorm_trace_events_lost_total');
    const c0 = e.cpu();
    const rep = storm();
    cpuPerSec[arm].push((e.cpu() - c0) / rep.wallSeconds);
    arms[arm].push(rep.operationsPerSecond);
    await sleep(1500);
    const after = await e.metrics();
    const events = metric(after, 'mountstorm_trace_events_total') - before;
    lostEvents += metric(after, 'mountstorm_trace_events_lost_total') - lost;
    peakEventsPerSec = Math.max(peakEventsPerSec, events / Math.max(rep.wallSeconds, 1e-3));
    await e.stop();
  };
  for (let r = 0; r < rounds; r++) {
    arms.none.push(warmStorm().operationsPerSecond);
    await measured('exporter, no tracefs', ['--no-collector.tracefs']);
    await measured(RAW, ['--collector.tracefs.format=raw']);
    await measured(TEXT, ['--collector.tracefs.format=text']);
    const u = await startUnreadInstance();
    arms['tracepoints on, not read (floor)'].push(warmStorm().operationsPerSecond);
    await u.stop();
  }
  const rates = decoderRates();

  const base = median(arms.none);
  console.log(`Machine: ${os.cpus().length} CPUs (${os.cpus()[0].model}), kernel ${os.release()}, node ${process.version}`);
  console.log(`Command: node bench/tracefs.js ${rounds} ${duration} ${layers} ${concurrency}`);
  console.log(`Storm: per-layer-idmap, sustained ${duration}, ${layers} layers, concurrency ${concurrency}; ${rounds} interleaved rounds per arm, median`);
  console.log('');
  console.log('| arm | median storm mount ops/s | min | max | ratio to no exporter | exporter CPU per storm second |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, v] of Object.entries(arms)) {
    const c = cpuPerSec[name] ? `${(median(cpuPerSec[name]) * 1000).toFixed(0)} ms` : '';
    console.log(`| ${name} | ${Math.round(median(v))} | ${Math.round(Math.min(...v))} | ${Math.round(Math.max(...v))} | ${(median(v) / base).toFixed(3)} | ${c} |`);
  }
  console.log('');
  console.log(`Peak event rate during the storms: ${Math.round(peakEventsPerSec).toLocaleString('en')}/s; events the ring buffers dropped (every tracefs arm, all rounds): ${lostEvents}.`);
  console.log(`Decoders (median of 5, captured fixtures, decode + merge + aggregate): raw pages ${Math.round(rates.raw).toLocaleString('en')} events/s ` +
    `(headroom ${(rates.raw / Math.max(peakEventsPerSec, 1)).toFixed(1)}×); text ${Math.round(rates.text).toLocaleString('en')} lines/s (headroom ${(rates.text / Math.max(peakEventsPerSec, 1)).toFixed(1)}×; the kernel's formatting of the text is not in this figure).`);
})();
