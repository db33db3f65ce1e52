#!/usr/bin/env node
// What the tracefs collector costs, and how fast its decoder is. Each figure with a baseline
// measured in the same run:
//  1. Interference: a fixed sustained `mountstorm storm` (--duration) in five arms: no exporter
//     (the baseline) | exporter without tracefs | exporter with tracefs, 1 s sampling, reading the
//     binary trace_pipe_raw pages (the default) | the same reading the trace_pipe text | the same
//     tracepoints enabled in an instance nobody reads (the kernel's recording cost: a floor no
//     reader can beat). Every round runs each arm once, in an order rotated round by round, and
//     each arm's throughput is divided by the same round's no-exporter run: a paired ratio, so the
//     machine's drift between rounds cancels. Reported: the median of those ratios, their mean with
//     a 95 % confidence interval (t distribution), and the exporter's CPU (all threads) per second
//     of storm.
//     Every arm first runs an unmeasured storm (--warm, default 6 s) with its exporter already up:
//     an exporter has run for days when a storm comes, so its code is compiled and V8's garbage
//     collections after start-up are over; a freshly started one costs three times as much in its
//     first seconds (measured while writing this script: 27 against 9 ms/s without tracefs).
//  2. Decoder: events/s that decode + merge + aggregate sustain on pages captured live from a
//     storm (the real mix of events), against the peak event rate seen in the storms above; and
//     the text parser on the captured trace_pipe lines (test/fixtures/tracefs).
// usage (root, after npm run build): node bench/tracefs.js [rounds] [duration] [layers] [concurrency] [warm]
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { TraceAggregator } = require('../dist/src/tracefs/aggregate');
const { accountEvent, decodePage, rawLayout, TimeMerge } = require('../dist/src/tracefs/raw');
const { LATENCY_BUCKETS } = require('../dist/src/exposition');

const rounds = Number(process.argv[2] ?? 10);
const duration = process.argv[3] ?? '4s';
const layers = process.argv[4] ?? '50';
const concurrency = process.argv[5] ?? '8';
const warm = process.argv[6] ?? '6s';
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

/**
 * The exporter's tracepoints enabled in an instance of a helper that never reads it. With
 * `capture`, the helper copies out what its buffers hold when asked (SIGUSR2): the pages the
 * decoder benchmark runs on.
 */
async function startUnreadInstance(bufferSizeKb = 512, capture) {
  const script = `
    const fs = require('node:fs');
    const path = require('node:path');
    const { locateTracefs, TraceInstance } = require(${JSON.stringify(path.join(__dirname, '../dist/src/tracefs/instance'))});
    const { HostPaths } = require(${JSON.stringify(path.join(__dirname, '../dist/src/fs/paths'))});
    const { Logger } = require(${JSON.stringify(path.join(__dirname, '../dist/src/log'))});
    const inst = TraceInstance.create(locateTracefs(new HostPaths(), undefined), { bufferSizeKb: ${bufferSizeKb}, format: 'raw', log: new Logger('error') });
    process.on('SIGUSR2', () => {
      const out = ${JSON.stringify(capture ?? '')};
      const src = inst.source;
      for (const { cpu, fd } of src.cpus) {
        const pages = [];
        const buf = Buffer.alloc(src.pageSize);
        for (;;) {
          let n = 0;
          try { n = fs.readSync(fd, buf, 0, buf.length, null); } catch { break; }
          if (n === 0) break;
          pages.push(Buffer.from(buf));
        }
        fs.writeFileSync(path.join(out, 'cpu' + cpu + '.raw'), Buffer.concat(pages));
      }
      const text = (f) => fs.readFileSync(path.join(inst.dir, f), 'utf8');
      fs.writeFileSync(path.join(out, 'layout.json'), JSON.stringify({ pageSize: src.pageSize, headerPage: text('events/header_page'), headerEvent: text('events/header_event'), formats: inst.enabled.map((e) => [e, text('events/' + e + '/format')]) }));
      process.stdout.write('captured\\n');
    });
    process.stdout.write('ready\\n');
    process.on('SIGTERM', () => process.exit(0));
    setInterval(() => {}, 1000);`;
  const p = spawn('unshare', ['--mount', '--propagation', 'private', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => { p.stdout.once('data', resolve); p.once('exit', (c) => reject(new Error(`unread-instance helper exited ${c}`))); });
  return {
    capture: async () => { p.kill('SIGUSR2'); await new Promise((r) => p.stdout.once('data', r)); },
    stop: async () => { p.kill('SIGTERM'); await new Promise((r) => p.on('exit', r)); },
  };
}

function storm(d = duration) {
  const out = execFileSync(process.execPath, [cli, 'storm', '--json', '--no-progress', `--duration=${d}`, `--layers=${layers}`, `--concurrency=${concurrency}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out);
}

/** The measured storm, after the unmeasured warm-up one. */
function warmStorm() {
  storm(warm);
  return storm();
}

const metric = (text, name) => {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
};

const RAW = 'exporter + tracefs (raw pages, default)';
const TEXT = 'exporter + tracefs (text)';

/** Student's t, two-sided 95 %, by degrees of freedom (1-30). */
const T95 = [12.71, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** Mean and 95 % confidence half-width of `v`. */
function meanCi(v) {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  if (v.length < 2) return { mean, half: NaN };
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
  return { mean, half: (T95[Math.min(v.length - 2, T95.length - 1)] * sd) / Math.sqrt(v.length) };
}

/**
 * Decode + merge + aggregate, over and over, on the pages an unread instance captured from a live
 * storm (`dir`: cpuN.raw and layout.json); and the text parser on the captured trace_pipe lines of
 * test/fixtures/tracefs. Events (lines) per second, median of 5.
 */
function decoderRates(dir) {
  const l = JSON.parse(fs.readFileSync(path.join(dir, 'layout.json'), 'utf8'));
  const layout = rawLayout(l.headerPage, l.headerEvent, new Map(l.formats));
  const cpus = fs.readdirSync(dir).filter((f) => /^cpu\d+\.raw$/.test(f)).map((f) => [Number(f.slice(3, -4)), fs.readFileSync(path.join(dir, f))]);
  const agg = () => new TraceAggregator({ buckets: LATENCY_BUCKETS, topProcesses: 10, maxInflight: 65536, resolveComm: () => 'x' });
  const raw = [];
  const text = [];
  const lines = fs.readFileSync(path.join(__dirname, '../test/fixtures/tracefs/raw/trace_pipe.txt'), 'utf8');
  const nLines = lines.split('\n').length - 1;
  let perRep = 0;
  for (let i = 0; i < 5; i++) {
    const a = agg();
    const m = new TimeMerge(false);
    let n = 0;
    const t0 = process.hrtime.bigint();
    for (let rep = 0; rep < 20; rep++) {
      for (const [cpu, pages] of cpus) {
        m.startRun();
        for (let off = 0; off < pages.length; off += l.pageSize) decodePage(pages.subarray(off, off + l.pageSize), l.pageSize, cpu, layout, m.pending);
      }
      // The same pages again: shifted in time, so every pass is later than the one before.
      m.release(0, (b, j) => {
        n++;
        b.ts[j] += rep * 10;
        accountEvent(a, b, j);
      });
    }
    perRep = n / 20;
    raw.push(n / (Number(process.hrtime.bigint() - t0) / 1e9));
    const t = agg();
    const t1 = process.hrtime.bigint();
    for (let rep = 0; rep < 500; rep++) t.feed(lines);
    text.push((nLines * 500) / (Number(process.hrtime.bigint() - t1) / 1e9));
  }
  return { raw: median(raw), text: median(text), events: perRep };
}

(async () => {
  const FLOOR = 'tracepoints on, not read (floor)';
  const NOTR = 'exporter, no tracefs';
  const arms = { none: [], [NOTR]: [], [RAW]: [], [TEXT]: [], [FLOOR]: [] };
  const ratios = { [NOTR]: [], [RAW]: [], [TEXT]: [], [FLOOR]: [] };
  const cpuPerSec = { [NOTR]: [], [RAW]: [], [TEXT]: [] };
  let peakEventsPerSec = 0;
  let lostEvents = 0;
  const exporterArm = (arm, args) => async () => {
    const e = await startExporter(args);
    storm(warm);
    const start = await e.metrics();
    const before = metric(start, 'mountstorm_trace_events_total');
    const lost = metric(start, 'mountstorm_trace_events_lost_total');
    const c0 = e.cpu();
    const rep = storm();
    cpuPerSec[arm].push((e.cpu() - c0) / rep.wallSeconds);
    await sleep(1500);
    const after = await e.metrics();
    const events = metric(after, 'mountstorm_trace_events_total') - before;
    lostEvents += metric(after, 'mountstorm_trace_events_lost_total') - lost;
    peakEventsPerSec = Math.max(peakEventsPerSec, events / Math.max(rep.wallSeconds, 1e-3));
    await e.stop();
    return rep.operationsPerSecond;
  };
  const run = {
    none: async () => warmStorm().operationsPerSecond,
    [NOTR]: exporterArm(NOTR, ['--no-collector.tracefs']),
    [RAW]: exporterArm(RAW, ['--collector.tracefs.format=raw']),
    [TEXT]: exporterArm(TEXT, ['--collector.tracefs.format=text']),
    [FLOOR]: async () => {
      const u = await startUnreadInstance();
      const ops = warmStorm().operationsPerSecond;
      await u.stop();
      return ops;
    },
  };
  const order = Object.keys(run);
  for (let r = 0; r < rounds; r++) {
    const got = {};
    for (let k = 0; k < order.length; k++) {
      const arm = order[(k + r) % order.length];
      got[arm] = await run[arm]();
      arms[arm].push(got[arm]);
    }
    for (const arm of Object.keys(ratios)) ratios[arm].push(got[arm] / got.none);
  }

  // Pages for the decoder: what the exporter's instance records in a 1 s storm, in buffers big
  // enough to keep all of it.
  const capDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-bench-'));
  const u = await startUnreadInstance(65536, capDir);
  storm('1s');
  await u.capture();
  await u.stop();
  const rates = decoderRates(capDir);
  fs.rmSync(capDir, { recursive: true, force: true });

  console.log(`Machine: ${os.cpus().length} CPUs (${os.cpus()[0].model}), kernel ${os.release()}, node ${process.version}`);
  console.log(`Command: node bench/tracefs.js ${rounds} ${duration} ${layers} ${concurrency} ${warm}`);
  console.log(`Storm: per-layer-idmap, sustained ${duration} after an unmeasured ${warm}, ${layers} layers, concurrency ${concurrency}; ${rounds} rounds, each arm once per round in a rotated order, each ratio to the same round's no-exporter run`);
  console.log('');
  console.log('| arm | median storm mount ops/s | min | max | paired ratio to no exporter: median | mean, 95 % CI | exporter CPU per storm second (median) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, v] of Object.entries(arms)) {
    const c = cpuPerSec[name] ? `${(median(cpuPerSec[name]) * 1000).toFixed(0)} ms` : '';
    const rs = ratios[name];
    const ci = rs ? meanCi(rs) : undefined;
    const med = rs ? median(rs).toFixed(3) : '1';
    const mean = ci ? `${ci.mean.toFixed(3)} ± ${ci.half.toFixed(3)}` : '';
    console.log(`| ${name} | ${Math.round(median(v))} | ${Math.round(Math.min(...v))} | ${Math.round(Math.max(...v))} | ${med} | ${mean} | ${c} |`);
  }
  console.log('');
  console.log(`Peak event rate during the storms: ${Math.round(peakEventsPerSec).toLocaleString('en')}/s; events the ring buffers dropped (every tracefs arm, all rounds): ${lostEvents}.`);
  console.log(`Decoder (median of 5): decode + merge + aggregate on the ${Math.round(rates.events).toLocaleString('en')} events a 1 s storm recorded: ${Math.round(rates.raw).toLocaleString('en')} events/s ` +
    `(headroom ${(rates.raw / Math.max(peakEventsPerSec, 1)).toFixed(1)}× over the peak rate); text parser on the captured trace_pipe lines: ${Math.round(rates.text).toLocaleString('en')} lines/s (the kernel's formatting of the text is not in this figure).`);
})();
