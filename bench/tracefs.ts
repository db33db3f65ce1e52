// What the tracefs collector costs, and how fast its decoder is. Each figure with a baseline
// measured in the same run:
//  1. Interference: the throughput of one long, fixed `mountstorm storm` (per-layer-idmap) while an
//     exporter alternates between running and not running, in blocks (--block, default 3 s). Not
//     running: the exporter is stopped (SIGSTOP) and every event of its tracefs instance disabled,
//     so neither it nor the kernel's tracepoints cost anything; running: events enabled again and
//     the exporter continued. Phases, one storm each: the exporter without tracefs; with tracefs
//     reading the binary trace_pipe_raw pages (the default); with tracefs reading the trace_pipe
//     text; and the same tracepoints enabled in an instance nobody reads (the kernel's recording
//     cost: a floor no reader can beat), whole and split into the syscall events and the lock
//     events. Each phase first runs its exporter through --settle seconds of storm (an exporter
//     has run for days when a storm comes: its code is compiled and V8's collections after
//     start-up are over; a freshly started one costs three times as much in its first seconds),
//     then --pairs pairs of blocks, off/on and on/off in turn. A pair's ratio is the storm's
//     containers per second in its running block ÷ in its stopped block, each over the block less
//     its first --skip seconds, from the storm's own progress samples (--json-progress: every
//     200 ms, timed by the storm on CLOCK_MONOTONIC, so no pipe or scheduling delay is in them).
//     This machine's storm throughput moves by about 8 % from one second to the next whatever runs
//     beside it; short blocks, many pairs and one storm throughout cancel most of that and its
//     drift. Reported: the median of the pairs' ratios, their mean with a 95 % confidence
//     interval, and the exporter's CPU (all threads) per second of storm while running.
//  2. Decoder: events/s that decode + merge + aggregate sustain on pages captured live from a
//     storm (the real mix of events), against the peak event rate seen above; and the text parser
//     on the captured trace_pipe lines (test/fixtures/tracefs).
//  3. With --alternatives, instead of 1 and 2: what cheaper designs would cost, with the same
//     method, beside the floor measured in the same run. The syscall exits alone recorded and never
//     read: the least any collector with exact counts and errors must have the kernel record (no
//     durations, no lock wait by syscall: those need the entries). And, where bpftrace is
//     installed (apt install bpftrace), aggregating in the kernel: BPF programs on the same
//     tracepoints keeping the collector's totals in maps, so that no event is recorded or read
//     (bench/tracefs-aggregate.bt; without bpftrace those phases are left out). Its programs stay
//     attached through the stopped blocks, gated by a flag the bench flips (kill(2) with signal 0
//     on a pid no task has), so their attached-but-idle cost is in both blocks and the ratio, if
//     anything, flatters them.
// usage (root, after npm run build): node dist/bench/tracefs.js [--alternatives] [pairs] [block] [layers] [concurrency] [settle] [skip]
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TraceAggregator } from '../src/sources/tracefs/aggregator';
import { accountEvent } from '../src/sources/tracefs/batch';
import { rawLayout } from '../src/sources/tracefs/format';
import { TimeMerge } from '../src/sources/tracefs/merge';
import { decodePage } from '../src/sources/tracefs/page';
import { LATENCY_BUCKETS } from '../src/exposition';
import type { StormReport } from '../src/storm/report';
import { median, meanCi } from './stats';
import { REPO } from '../test/support/env';
import { cpuSeconds, firstChild, serveInNamespace, sleep } from './proc';

const alternatives = process.argv.includes('--alternatives');
const argv = process.argv.slice(2).filter((a) => a !== '--alternatives');
const pairs = Number(argv[0] ?? 30);
const blockS = Number(argv[1] ?? 3);
const layers = argv[2] ?? '50';
const concurrency = argv[3] ?? '8';
const settleS = Number(argv[4] ?? 10);
/** The start of a block is not measured: the switch itself, and a resumed exporter's catch-up sample. */
const SKIP_S = Number(argv[5] ?? 0.5);
const cli = path.join(REPO, 'dist/src/cli.js');

async function startExporter(extra: string[]) {
  // Its own mount namespace, so that the tracefs it mounts where the host has none goes with it; the
  // host's PIDs and /proc, as a DaemonSet with hostPID sees them; its own mount table.
  const p = serveInNamespace(cli, [
    '--web.listen-address=127.0.0.1:19867',
    '--sample.interval=1s',
    '--mount.pid=self',
    '--no-collector.containers',
    ...extra,
  ]);
  let log = '';
  p.stderr.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 100 && !/msg=listening/.test(log); i++) await sleep(50);
  await sleep(1500);
  const kid = firstChild(p.pid as number) as number;
  // Its instance, through its own mount namespace (the tracefs it found or mounted there).
  const inst = /msg="tracefs: tracing mount syscalls" instance=(\S+)/.exec(log)?.[1];
  return {
    pid: kid,
    instance: inst ? `/proc/${kid}/root${inst}` : undefined,
    metrics: async () => (await fetch('http://127.0.0.1:19867/metrics')).text(),
    /** CPU seconds the exporter (every thread) has used. */
    cpu: () => cpuSeconds(kid),
    stop: async () => {
      process.kill(kid, 'SIGCONT');
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
async function startUnreadInstance(bufferSizeKb = 512, capture?: string) {
  const script = `
    const fs = require('node:fs');
    const path = require('node:path');
    const { TraceInstance } = require(${JSON.stringify(path.join(REPO, 'dist/src/sources/tracefs/instance'))});
    const { locateTracefs } = require(${JSON.stringify(path.join(REPO, 'dist/src/sources/tracefs/locate'))});
    const { HostPaths } = require(${JSON.stringify(path.join(REPO, 'dist/src/fs/paths'))});
    const inst = TraceInstance.create(locateTracefs(new HostPaths(), undefined), { bufferSizeKb: ${bufferSizeKb}, format: 'raw', armed: true }, { removedStale() {}, warn() {} });
    process.on('SIGUSR2', () => {
      const out = ${JSON.stringify(capture ?? '')};
      const src = inst.stream;
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
    process.stdout.write('ready ' + inst.dir + '\\n');
    process.on('SIGTERM', () => process.exit(0));
    setInterval(() => {}, 1000);`;
  const p = spawn('unshare', ['--mount', '--propagation', 'private', process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = await new Promise((resolve, reject) => {
    p.stdout.once('data', resolve);
    p.once('exit', (c) => reject(new Error(`unread-instance helper exited ${c}`)));
  });
  return {
    instance: `/proc/${p.pid}/root${String(ready).trim().split(' ')[1]}`,
    capture: async () => {
      p.kill('SIGUSR2');
      await new Promise((r) => p.stdout.once('data', r));
    },
    stop: async () => {
      p.kill('SIGTERM');
      await new Promise((r) => p.on('exit', r));
    },
  };
}

function storm(d: string): StormReport {
  const out = execFileSync(
    process.execPath,
    [cli, 'storm', '--json', '--no-progress', `--duration=${d}`, `--layers=${layers}`, `--concurrency=${concurrency}`],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  return JSON.parse(out) as StormReport;
}

/** CLOCK_MONOTONIC seconds: the clock of the storm's --json-progress lines. */
const now = () => Number(process.hrtime.bigint()) / 1e9;

/** A sustained storm; its progress (containers started, every 200 ms, timed by the storm itself) is kept. */
function longStorm(seconds: number) {
  const p = spawn(
    process.execPath,
    [cli, 'storm', '--json-progress', `--duration=${seconds}s`, `--layers=${layers}`, `--concurrency=${concurrency}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const samples: Array<{ t: number; done: number }> = [];
  let carry = '';
  p.stderr.on('data', (d: Buffer) => {
    const lines = (carry + d.toString()).split('\n');
    carry = lines.pop() ?? '';
    for (const l of lines) {
      try {
        const m = JSON.parse(l) as { monotonic: number; done: number };
        samples.push({ t: m.monotonic, done: m.done });
      } catch {
        // not a progress line
      }
    }
  });
  const done = new Promise<void>((resolve, reject) =>
    p.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`storm exited ${c}`)))),
  );
  return {
    /** Containers per second between the first and last progress sample inside [from, to]. */
    rate: (from: number, to: number): number => {
      const inside = samples.filter((x) => x.t >= from && x.t <= to);
      if (inside.length < 2) throw new Error(`fewer than 2 progress samples in a ${(to - from).toFixed(1)} s window`);
      const a = inside[0] as { t: number; done: number };
      const z = inside[inside.length - 1] as { t: number; done: number };
      return (z.done - a.done) / (z.t - a.t);
    },
    done,
  };
}

/**
 * Every event an instance has enabled (`dir`: its directory), to switch off and on again; with
 * `only`, just the events whose path under events/ it accepts, and the others switched off for good.
 */
function eventSwitch(dir: string, only: (event: string) => boolean = () => true): Switch {
  const files: string[] = [];
  for (const sys of fs.readdirSync(path.join(dir, 'events'))) {
    const sd = path.join(dir, 'events', sys);
    if (!fs.statSync(sd).isDirectory()) continue;
    for (const ev of fs.readdirSync(sd)) {
      const f = path.join(sd, ev, 'enable');
      if (!fs.existsSync(f) || fs.readFileSync(f, 'utf8').trim() !== '1') continue;
      if (only(`${sys}/${ev}`)) files.push(f);
      else fs.writeFileSync(f, '0');
    }
  }
  if (files.length === 0) throw new Error(`no enabled events under ${dir}`);
  const set = (v: string) => files.forEach((f) => fs.writeFileSync(f, v));
  return { off: () => set('0'), on: () => set('1') };
}

const metric = (text: string, name: string) => {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
};

const RAW = 'exporter + tracefs (raw pages, default)';
const TEXT = 'exporter + tracefs (text)';

/**
 * Decode + merge + aggregate, over and over, on the pages an unread instance captured from a live
 * storm (`dir`: cpuN.raw and layout.json); and the text parser on the captured trace_pipe lines of
 * test/fixtures/tracefs. Events (lines) per second, median of 5.
 */
function decoderRates(dir: string) {
  const l = JSON.parse(fs.readFileSync(path.join(dir, 'layout.json'), 'utf8')) as {
    pageSize: number;
    headerPage: string;
    headerEvent: string;
    formats: Array<[string, string]>;
  };
  const layout = rawLayout(l.headerPage, l.headerEvent, new Map(l.formats));
  const cpus = fs
    .readdirSync(dir)
    .filter((f) => /^cpu\d+\.raw$/.test(f))
    .map((f): [number, Buffer] => [Number(f.slice(3, -4)), fs.readFileSync(path.join(dir, f))]);
  const agg = () =>
    new TraceAggregator({ buckets: LATENCY_BUCKETS, topProcesses: 10, maxInflight: 65536, resolveComm: () => 'x' });
  const raw: number[] = [];
  const text: number[] = [];
  const lines = fs.readFileSync(path.join(REPO, 'test/fixtures/tracefs/raw/trace_pipe.txt'), 'utf8');
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
        for (let off = 0; off < pages.length; off += l.pageSize)
          decodePage(pages.subarray(off, off + l.pageSize), l.pageSize, cpu, layout, m.pending);
      }
      // The same pages again: shifted in time, so every pass is later than the one before.
      m.release(0, (b, j) => {
        n++;
        (b.ts[j] as number) += rep * 10;
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

/**
 * One phase: a storm of settle + pairs × 2 blocks; `on`/`off` switch the exporter (or instance),
 * `cpu` (optional) reads its CPU seconds. Returns the pairs' ratios and CPU per running second.
 */
/** A phase's switches: on and off, and (optionally) the CPU seconds of what is switched. */
interface Switch {
  on: () => void;
  off: () => void;
  cpu?: () => number;
}
interface PhaseResult {
  ratios: number[];
  onSeconds: number;
  cpuPerSec: number | undefined;
  eventsPerSec?: number;
  lost?: number;
  bpfCalls?: number;
}

async function phase({ on, off, cpu }: Switch): Promise<PhaseResult> {
  const st = longStorm(settleS + pairs * 2 * blockS + 3);
  const t = now();
  on();
  await sleep(settleS * 1000);
  let onSeconds = now() - t;
  const ratios: number[] = [];
  let cpuUsed = 0;
  let cpuTime = 0;
  for (let i = 0; i < pairs; i++) {
    const rate = { on: NaN, off: NaN };
    const states: Array<'on' | 'off'> = i % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const state of states) {
      (state === 'on' ? on : off)();
      const t0 = now();
      const c0 = state === 'on' && cpu ? cpu() : 0;
      await sleep(blockS * 1000);
      if (state === 'on') {
        const dt = now() - t0;
        onSeconds += dt;
        if (cpu) {
          cpuUsed += cpu() - c0;
          cpuTime += dt;
        }
      }
      rate[state] = st.rate(t0 + SKIP_S, now());
    }
    ratios.push(rate.on / rate.off);
  }
  const tail = now();
  on();
  await st.done;
  onSeconds += now() - tail;
  return { ratios, onSeconds, cpuPerSec: cpuTime > 0 ? cpuUsed / cpuTime : undefined };
}

/** Phases with an exporter: stopped and its events off, or its events on and continued. */
async function exporterPhase(args: string[]): Promise<PhaseResult> {
  const e = await startExporter(args);
  const events = e.instance ? eventSwitch(e.instance) : undefined;
  const start = await e.metrics();
  const r = await phase({
    on: () => {
      events?.on();
      process.kill(e.pid, 'SIGCONT');
    },
    off: () => {
      process.kill(e.pid, 'SIGSTOP');
      events?.off();
    },
    cpu: () => e.cpu(),
  });
  await sleep(1500);
  const end = await e.metrics();
  await e.stop();
  const count = (name: string) => metric(end, name) - metric(start, name);
  return {
    ...r,
    eventsPerSec: count('mountstorm_trace_events_total') / r.onSeconds,
    lost: count('mountstorm_trace_events_lost_total'),
  };
}

/** The BPF aggregation of bench/tracefs-aggregate.bt, attached for the whole phase; on/off flip its gate. */
async function bpfPhase(): Promise<PhaseResult> {
  const script = path.join(REPO, 'bench/tracefs-aggregate.bt');
  const b = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-ec',
      `mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing; exec bpftrace ${script}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const collect = (d: Buffer) => (out += d.toString());
  b.stdout.on('data', collect);
  b.stderr.on('data', collect);
  const exited = new Promise<void>((resolve) => b.on('exit', () => resolve()));
  for (let i = 0; i < 600 && !/Attaching \d+ probes/.test(out); i++) {
    if (b.exitCode !== null) throw new Error(`bpftrace exited ${b.exitCode}: ${out.trim()}`);
    await sleep(50);
  }
  if (!/Attaching \d+ probes/.test(out)) throw new Error(`bpftrace did not attach in 30 s: ${out.trim()}`);
  await sleep(1000);
  // kill(pid, 0) on a pid no task has: ESRCH, but the syscall (and its tracepoint) ran.
  const gate = (pid: number) => {
    try {
      process.kill(pid, 0);
    } catch {
      // ESRCH, as intended
    }
  };
  const r = await phase({ on: () => gate(424242), off: () => gate(424243) });
  // Its totals, to check it counted what the storm did (printed on exit).
  b.kill('SIGINT');
  await exited;
  const calls = [...out.matchAll(/^@calls\[(\d+), \d+\]: (\d+)$/gm)].reduce((a, m) => a + Number(m[2]), 0);
  return { ...r, eventsPerSec: undefined, bpfCalls: calls };
}

async function alternativesRun() {
  const FLOOR = 'tracepoints on, not read (floor)';
  const EXITS = 'syscall exits only, not read';
  const BPF = 'in-kernel aggregation (BPF, bpftrace)';
  let bpftrace: string | undefined;
  try {
    bpftrace = execFileSync('bpftrace', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    bpftrace = undefined;
  }
  const results: Record<string, PhaseResult> = {};
  storm('2s');
  for (let round = 1; round <= 2; round++) {
    for (const [name, only] of [
      [FLOOR, () => true],
      [EXITS, (e: string) => e.startsWith('syscalls/sys_exit_')],
    ] as const) {
      const u = await startUnreadInstance();
      const events = eventSwitch(u.instance, only);
      results[`${name}, round ${round}`] = await phase({ on: () => events.on(), off: () => events.off() });
      await u.stop();
    }
    if (bpftrace) results[`${BPF}, round ${round}`] = await bpfPhase();
  }
  console.log(
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}, ${bpftrace ?? 'no bpftrace (apt install bpftrace): the BPF phases were left out'}`,
  );
  console.log(
    `Command: node dist/bench/tracefs.js --alternatives ${pairs} ${blockS} ${layers} ${concurrency} ${settleS} ${SKIP_S}`,
  );
  console.log('');
  table(results);
  if (!bpftrace) return;
  console.log('');
  console.log(
    `Mount-family syscalls the BPF programs counted while on: ${Object.entries(results)
      .filter(([n]) => n.startsWith(BPF))
      .map(([, r]) => (r.bpfCalls ?? 0).toLocaleString('en'))
      .join(', ')}.`,
  );
}

function table(results: Record<string, PhaseResult>) {
  console.log(
    '| exporter | pairs | ratio running ÷ stopped: median | mean, 95 % CI | min | max | exporter CPU per storm second |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, r] of Object.entries(results)) {
    const ci = meanCi(r.ratios);
    const c = r.cpuPerSec !== undefined ? `${(r.cpuPerSec * 1000).toFixed(0)} ms` : '';
    console.log(
      `| ${name} | ${r.ratios.length} | ${median(r.ratios).toFixed(3)} | ${ci.mean.toFixed(3)} ± ${ci.half.toFixed(3)} | ${Math.min(...r.ratios).toFixed(3)} | ${Math.max(...r.ratios).toFixed(3)} | ${c} |`,
    );
  }
}

async function mainRun() {
  const FLOOR = 'tracepoints on, not read (floor)';
  const FLOOR_SYS = 'floor: syscall events only';
  const FLOOR_LOCK = 'floor: lock events only';
  const NOTR = 'exporter, no tracefs';
  const results: Record<string, PhaseResult> = {};
  storm('2s'); // the storm's own first run (page cache, JIT of its workers) is not in any phase
  results[NOTR] = await exporterPhase(['--no-collector.tracefs']);
  // Recording throughout (mode always): on demand, a storm arms the same events, so this is what tracing costs a storm either way.
  results[RAW] = await exporterPhase(['--collector.tracefs.format=raw', '--collector.tracefs.mode=always']);
  results[TEXT] = await exporterPhase(['--collector.tracefs.format=text', '--collector.tracefs.mode=always']);
  // The floors, whole and split: what the kernel's recording costs, with no reader at all.
  for (const [name, only] of [
    [FLOOR, () => true],
    [FLOOR_SYS, (e: string) => e.startsWith('syscalls/')],
    [FLOOR_LOCK, (e: string) => e.startsWith('lock/')],
  ] as const) {
    const u = await startUnreadInstance();
    const events = eventSwitch(u.instance, only);
    results[name] = await phase({ on: () => events.on(), off: () => events.off() });
    await u.stop();
  }

  // Pages for the decoder: what the exporter's instance records in a 1 s storm, in buffers big
  // enough to keep all of it.
  const capDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-bench-'));
  const cap = await startUnreadInstance(65536, capDir);
  storm('1s');
  await cap.capture();
  await cap.stop();
  const rates = decoderRates(capDir);
  fs.rmSync(capDir, { recursive: true, force: true });

  const peak = Math.max(...Object.values(results).map((r) => r.eventsPerSec ?? 0));
  const lost = Object.values(results).reduce((a, r) => a + (r.lost ?? 0), 0);
  console.log(
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}`,
  );
  console.log(`Command: node dist/bench/tracefs.js ${pairs} ${blockS} ${layers} ${concurrency} ${settleS} ${SKIP_S}`);
  console.log(
    `Storm: per-layer-idmap, ${layers} layers, concurrency ${concurrency}, one sustained storm per phase: ${settleS} s settling, then ${pairs} pairs of ${blockS} s blocks (running / stopped with its events off), each block measured after its first ${SKIP_S} s`,
  );
  console.log('');
  table(results);
  console.log('');
  console.log(
    `Event rate while running (tracefs phases, events/s over the running time): ${Object.entries(results)
      .filter(([, r]) => r.eventsPerSec)
      .map(
        ([n, r]) => `${n.replace('exporter + tracefs ', '')} ${Math.round(r.eventsPerSec ?? 0).toLocaleString('en')}`,
      )
      .join(', ')}; events the ring buffers dropped: ${lost}.`,
  );
  console.log(
    `Decoder (median of 5): decode + merge + aggregate on the ${Math.round(rates.events).toLocaleString('en')} events a 1 s storm recorded: ${Math.round(rates.raw).toLocaleString('en')} events/s ` +
      `(headroom ${(rates.raw / Math.max(peak, 1)).toFixed(1)}× over the highest rate above); text parser on the captured trace_pipe lines: ${Math.round(rates.text).toLocaleString('en')} lines/s (the kernel's formatting of the text is not in this figure).`,
  );
}

(alternatives ? alternativesRun() : mainRun()).catch((err) => {
  console.error(err);
  process.exit(1);
});
