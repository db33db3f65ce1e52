import * as fs from 'node:fs';
import * as path from 'node:path';
import { LATENCY_BUCKETS } from '../../src/exposition';
import { NAME, TraceAggregator } from '../../src/sources/tracefs/aggregator';
import { accountEvent, RawBatch } from '../../src/sources/tracefs/batch';
import { syscallId } from '../../src/sources/tracefs/events';
import {
  checkHeaderEvent,
  parseEventFormat,
  parseHeaderPage,
  rawLayout,
  type RawLayout,
} from '../../src/sources/tracefs/format';
import { TimeMerge } from '../../src/sources/tracefs/merge';
import { parseSavedCmdlines } from '../../src/sources/tracefs/names';
import { decodePage } from '../../src/sources/tracefs/page';
import { parseTraceLine, type TimedEvent } from '../../src/sources/tracefs/trace-pipe';
import { FIXTURES } from '../support/env';
import { keyed, type KeyedTotals } from '../support/trace-totals';

// Captured from this kernel by test/fixtures/capture/trace-raw.sh: the same events recorded by two
// instances side by side, one read as trace_pipe_raw pages, the other as trace_pipe text.
const RAW = path.join(FIXTURES, 'tracefs/raw');
const read = (f: string) => fs.readFileSync(path.join(RAW, f), 'utf8');

function capturedFormats(): Map<string, string> {
  const formats = new Map<string, string>();
  for (const system of fs.readdirSync(path.join(RAW, 'events'))) {
    for (const event of fs.readdirSync(path.join(RAW, 'events', system)))
      formats.set(`${system}/${event}`, read(`events/${system}/${event}/format`));
  }
  return formats;
}
const LAYOUT = rawLayout(read('header_page'), read('header_event'), capturedFormats());
const CPUS = fs
  .readdirSync(RAW)
  .flatMap((f) => /^cpu(\d+)\.raw$/.exec(f)?.[1] ?? [])
  .map(Number);
const TEXT = read('trace_pipe.txt')
  .split('\n')
  .filter(Boolean)
  .map((l) => parseTraceLine(l))
  .filter((e): e is TimedEvent => 'ts' in e);

const events = (b: RawBatch) => Array.from({ length: b.n }, (_, i) => b.event(i));

function decodeCpu(cpu: number, out = new RawBatch()): RawBatch {
  const pages = fs.readFileSync(path.join(RAW, `cpu${cpu}.raw`));
  for (let off = 0; off < pages.length; off += 4096) {
    const r = decodePage(pages.subarray(off, off + 4096), 4096, cpu, LAYOUT, out);
    expect(r).toEqual({ missed: 0 });
  }
  return out;
}

/** Decodes a page built by PageWriter into event objects. */
function decode(
  page: Buffer,
  layout: RawLayout,
  cpu = 0,
  length = 4096,
): { r: ReturnType<typeof decodePage>; out: TimedEvent[] } {
  const b = new RawBatch();
  const r = decodePage(page, length, cpu, layout, b);
  return { r, out: events(b) };
}

const strip = (e: TimedEvent) => {
  const { comm: _c, ts: _t, ...rest } = e;
  return rest;
};

describe('trace_pipe_raw pages captured from this kernel', () => {
  test('every CPU decodes to the very events the kernel formatted as text, in the same order', () => {
    expect(CPUS.length).toBeGreaterThanOrEqual(1);
    let total = 0;
    for (const cpu of CPUS) {
      // The fork and task_rename events too: each instance recorded them.
      const raw = events(decodeCpu(cpu));
      const text = TEXT.filter((e) => e.cpu === cpu);
      expect(raw.map(strip)).toEqual(text.map(strip));
      // Two instances stamp the same event with separate clock reads: microseconds apart, more where
      // an interrupt came between the two writes. A wrong delta or time extend would be off by far more.
      const diffs = raw.map((e, i) => Math.abs(e.ts - (text[i] as TimedEvent).ts)).sort((a, b) => a - b);
      expect(diffs[diffs.length - 1]).toBeLessThan(1e-3);
      expect(diffs[Math.floor(diffs.length * 0.99)]).toBeLessThan(20e-6);
      total += raw.length;
    }
    expect(total).toBe(TEXT.length);
    expect(total).toBeGreaterThan(500);
  });

  test("fork and task_rename events (PR_SET_NAME, and every exec) name the tasks: the kernel's names, cut to 15 bytes", () => {
    const names = CPUS.flatMap((cpu) => events(decodeCpu(cpu))).filter((e) => e.kind === 'name');
    const by = new Set(names.map((e) => (e.kind === 'name' ? e.name : '')));
    // trace-lib.sh: python3 renames itself "kubelet -x"; mount(8), umount(8), unshare(1) are exec'd.
    for (const n of ['kubelet -x', 'mount', 'umount', 'unshare', 'python3']) expect(by).toContain(n);
    for (const n of by) expect(Buffer.byteLength(n)).toBeLessThanOrEqual(15);
  });

  test('aggregated, raw and text give the same totals; the workload of trace-lib.sh is all there', () => {
    const agg = (feed: (a: TraceAggregator) => void, named = true): KeyedTotals => {
      // Names only from the capture: its fork and rename events (no saved_cmdlines, no /proc), and
      // trace_pipe's own where no event named the task.
      const names = new Map<number, string>();
      const a = new TraceAggregator({
        buckets: LATENCY_BUCKETS,
        topProcesses: 10,
        maxInflight: 1000,
        resolveComm: (tid) => names.get(tid),
        onName: named ? (tid, c) => names.set(tid, c) : undefined,
        eventName: (tid) => names.get(tid),
      });
      feed(a);
      return keyed(a.take());
    };
    const merge = new TimeMerge(false);
    for (const cpu of CPUS) {
      merge.startRun();
      decodeCpu(cpu, merge.pending);
    }
    let nameEvents = 0;
    const raw = agg((a) =>
      merge.release(0, (b, i) => {
        if (b.kind[i] === NAME) nameEvents++;
        accountEvent(a, b, i);
      }),
    );
    const text = agg((a) => a.feed(read('trace_pipe.txt')));
    expect(raw.callsByCpu).toEqual(text.callsByCpu);
    expect(raw.errors).toEqual(text.errors);
    expect(nameEvents).toBeGreaterThan(0);
    expect(raw.events).toBe(text.events);
    expect(Object.keys(raw.lockWait).sort()).toEqual(Object.keys(text.lockWait).sort());
    for (const [k, d] of Object.entries(text.durations)) {
      expect(raw.durations[k]?.count).toBe(d.count);
      expect(Math.abs((raw.durations[k]?.sum ?? 0) - d.sum)).toBeLessThan(d.count * 10e-6);
    }
    expect(raw.errors).toMatchObject({ 'umount\tEINVAL': 1, 'mount\tENOENT': 1 });
    // The workload's tmpfs, 3 by the forked python3, 10 + 1 by "kubelet -x", 8 × 30 by mount(8), and
    // unshare -m making / private.
    const mounts = Object.entries(raw.callsByCpu)
      .filter(([k]) => k.startsWith('mount\t'))
      .reduce((s, [, v]) => s + v, 0);
    expect(mounts).toBe(1 + 3 + 10 + 1 + 240 + 1);
    // Each task under its name when it made the call, in both formats: the forked python3 by its fork
    // alone (this aggregator has no /proc to ask), though it had exec'd true(1) before any line was read.
    const named = { mount: 241, umount: 241, 'kubelet -x': 22, unshare: 2, python3: 6 };
    expect(raw.byProcess).toEqual(named);
    expect(text.byProcess).toEqual(named);
    // Without the events, trace_pipe's names are the kernel's comm cache when each line is read: the
    // python3 child as true(1), and "<...>" (this aggregator: "unknown") where the cache missed one.
    const { mount, umount, unshare, unknown, ...rest } = agg((a) => a.feed(read('trace_pipe.txt')), false).byProcess;
    expect(rest).toEqual({ 'kubelet -x': 22, true: 8 });
    expect((mount ?? 0) + (umount ?? 0) + (unknown ?? 0)).toBe(2 * 241);
  });
});

/** Writes pages the way the kernel lays them out (events/header_page, events/header_event). */
class PageWriter {
  readonly buf = Buffer.alloc(4096);
  off = 16;
  constructor(ts: number) {
    this.buf.writeUInt32LE(ts % 2 ** 32, 0);
    this.buf.writeUInt32LE(Math.floor(ts / 2 ** 32), 4);
  }
  private head(typeLen: number, delta: number): void {
    this.buf.writeUInt32LE(((delta << 5) | typeLen) >>> 0, this.off);
    this.off += 4;
  }
  /** An event record: common fields, then `extra` bytes of fields; `long` forces the type_len 0 form. */
  event(delta: number, id: number, pid: number, fields: Buffer, long = false): this {
    const data = Buffer.concat([Buffer.alloc(8), fields]);
    data.writeUInt16LE(id, 0);
    data.writeInt32LE(pid, 4);
    const len = (data.length + 3) & ~3;
    if (long || len > 28 * 4) {
      this.head(0, delta);
      this.buf.writeUInt32LE(len + 4, this.off);
      this.off += 4;
    } else this.head(len / 4, delta);
    data.copy(this.buf, this.off);
    this.off += len;
    return this;
  }
  timeExtend(delta: number): this {
    this.head(30, delta % 2 ** 27);
    this.buf.writeUInt32LE(Math.floor(delta / 2 ** 27), this.off);
    this.off += 4;
    return this;
  }
  padding(delta: number, bytes: number): this {
    this.head(29, delta);
    this.buf.writeUInt32LE(bytes, this.off);
    this.off += 4 + bytes - 4;
    return this;
  }
  commit(flags = 0, missed?: number): Buffer {
    this.buf.writeUInt32LE((this.off - 16 + flags) >>> 0, 8);
    if (missed !== undefined) this.buf.writeUInt32LE(missed, this.off);
    return this.buf;
  }
}

const MINI_FORMATS = new Map([
  [
    'syscalls/sys_enter_mount',
    // Its flags where this layout says, not where this kernel puts them (offset 40).
    'name: sys_enter_mount\nID: 7\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:unsigned long flags;\toffset:8;\tsize:8;\tsigned:0;\n',
  ],
  [
    'syscalls/sys_exit_mount',
    'name: sys_exit_mount\nID: 8\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n',
  ],
  [
    'lock/contention_begin',
    'name: contention_begin\nID: 9\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:void * lock_addr;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:unsigned int flags;\toffset:16;\tsize:4;\tsigned:0;\n',
  ],
]);
const MINI: RawLayout = rawLayout(read('header_page'), read('header_event'), MINI_FORMATS);
const ret = (v: bigint) => {
  const b = Buffer.alloc(16);
  b.writeBigInt64LE(v, 8);
  return b;
};

describe('trace_pipe_raw records, each kind the ring buffer writes', () => {
  test('short and long records, a time extend, a discarded event, and the empty rest of a page', () => {
    const page = new PageWriter(5e9)
      .event(100, 7, 42, Buffer.alloc(8))
      .timeExtend(3 * 2 ** 27 + 5) // a gap of ~0.4 s
      .padding(7, 24) // a discarded event: its time still counts
      .event(1000, 8, 42, ret(-2n), true)
      .event(50, 9, 43, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 33, 0, 0, 0]))
      .event(60, 99, 44, Buffer.alloc(4)) // an event this layout does not know: skipped
      .commit();
    const { r, out } = decode(page, MINI, 3);
    expect(r).toEqual({ missed: 0 });
    const t1 = 5e9 + 100;
    const t2 = t1 + 3 * 2 ** 27 + 5 + 7 + 1000;
    expect(out).toEqual([
      { kind: 'enter', syscall: 'mount', comm: '<...>', tid: 42, cpu: 3, ts: t1 / 1e9, flags: 0 },
      { kind: 'exit', syscall: 'mount', comm: '<...>', tid: 42, cpu: 3, ts: t2 / 1e9, ret: -2 },
      { kind: 'lock_begin', comm: '<...>', tid: 43, cpu: 3, ts: (t2 + 50) / 1e9, flags: 33 },
    ]);
  });

  test("a fork names the child with its parent's name: child_comm as char[16] (6.1) or __data_loc (6.18)", () => {
    const common =
      '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n';
    // include/trace/events/sched.h before its comm fields became __data_loc strings.
    const old = `name: sched_process_fork\nID: 11\nformat:\n${common}\tfield:char parent_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:pid_t parent_pid;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:char child_comm[16];\toffset:28;\tsize:16;\tsigned:0;\n\tfield:pid_t child_pid;\toffset:44;\tsize:4;\tsigned:1;\n`;
    const fork = (pid: number, child: number, comm: string) => {
      const b = Buffer.alloc(40);
      b.write('containerd-shim', 0);
      b.writeInt32LE(pid, 16);
      b.write(comm, 20);
      b.writeInt32LE(child, 36);
      return b;
    };
    const oldLayout = rawLayout(
      read('header_page'),
      read('header_event'),
      new Map([['sched/sched_process_fork', old]]),
    );
    const a = decode(new PageWriter(1).event(1, 11, 100, fork(100, 4242, 'runc')).commit(), oldLayout).out;
    expect(a).toEqual([{ kind: 'name', comm: '<...>', tid: 4242, cpu: 0, ts: 2e-9, name: 'runc' }]);
    // The captured 6.18 format: the names are __data_loc strings after the fixed fields.
    const now = read('events/sched/sched_process_fork/format');
    expect(parseEventFormat(now).fields.get('child_comm')).toMatchObject({ size: 4, dataLoc: true });
    const layout = rawLayout(read('header_page'), read('header_event'), new Map([['sched/sched_process_fork', now]]));
    const id = parseEventFormat(now).id;
    const f = Buffer.alloc(32);
    f.writeUInt32LE((5 << 16) | 24, 0); // parent_comm "shim\0" at byte 24 of the event
    f.writeInt32LE(100, 4);
    f.writeUInt32LE((5 << 16) | 29, 8); // child_comm "runc\0" at byte 29
    f.writeInt32LE(4243, 12);
    f.write('shim\0runc\0', 16);
    const b = decode(new PageWriter(1).event(1, id, 100, f).commit(), layout).out;
    expect(b).toEqual([{ kind: 'name', comm: '<...>', tid: 4243, cpu: 0, ts: 2e-9, name: 'runc' }]);
    // A name that points outside its event is an error, not a read past it.
    f.writeUInt32LE((5 << 16) | 200, 8);
    expect(decode(new PageWriter(1).event(1, id, 100, f).commit(), layout).r.error).toMatch(/has a name outside it/);
  });

  test("a mount entry's flags: what tells a new mount or bind from a remount or a propagation change", () => {
    const flags = (v: bigint) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(v);
      return b;
    };
    // MS_BIND, MS_REC|MS_PRIVATE, and the old magic number in the top bits with MS_REMOUNT.
    const page = new PageWriter(1)
      .event(1, 7, 1, flags(0x1000n))
      .event(1, 7, 2, flags(0x44000n))
      .event(1, 7, 3, flags(0xc0ed0020n))
      .commit();
    expect(decode(page, MINI).out.map((e) => (e.kind === 'enter' ? e.flags : undefined))).toEqual([
      0x1000, 0x44000, 0xc0ed0020,
    ]);
  });

  test('events lost before a page: the stored count, or 1 where only flagged', () => {
    const w = new PageWriter(1).event(1, 7, 1, Buffer.alloc(8));
    expect(decode(w.commit(2 ** 31 + 2 ** 30, 1234), MINI).r).toEqual({ missed: 1234 });
    expect(decode(new PageWriter(1).event(1, 7, 1, Buffer.alloc(8)).commit(2 ** 31), MINI).r).toEqual({ missed: 1 });
  });

  test('a malformed page: the events before the damage are kept, and the error names where it is', () => {
    const good = new PageWriter(1).event(1, 7, 1, Buffer.alloc(8));
    const at = good.off;
    const page = good.event(1, 8, 1, ret(0n)).commit();
    page.writeUInt32LE(((1 << 5) | 2) >>> 0, at); // the exit record claims 8 bytes: shorter than its format
    const { r, out } = decode(page, MINI);
    expect(r.error).toMatch(/event syscalls\/sys_exit_mount at byte 36 is shorter than its format/);
    expect(out).toHaveLength(1);
    const past = new PageWriter(1).event(1, 7, 1, Buffer.alloc(8)).commit();
    expect(decode(past, MINI, 0, 20).r.error).toMatch(
      /page says 20 bytes of data follow its 16-byte header, past the 20 bytes read/,
    );
    expect(decode(past, MINI, 0, 10).r.error).toMatch(/shorter than its header/);
    const runs = new PageWriter(1).event(1, 7, 1, Buffer.alloc(8)).commit();
    runs.writeUInt32LE(12, 8); // commit cuts the record
    expect(decode(runs, MINI).r.error).toMatch(/runs past the page's 12 bytes/);
  });

  test('every byte pattern decodes or reports an error, never throws or reads out of bounds', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 2000; i++) {
      const page = Buffer.alloc(4096);
      for (let j = 0; j < 4096; j++) page[j] = rnd() < 0.5 ? 0 : Math.floor(rnd() * 256);
      page.writeUInt32LE(Math.floor(rnd() * 5000) + (rnd() < 0.1 ? 2 ** 31 : 0), 8);
      const len = rnd() < 0.2 ? Math.floor(rnd() * 4096) : 4096;
      expect(() => decodePage(page, len, 0, MINI, new RawBatch())).not.toThrow();
    }
  });
});

describe('formats', () => {
  test('field offsets come from the format files, not from this kernel', () => {
    const f = parseEventFormat(read('events/syscalls/sys_exit_mount/format'));
    expect(f.name).toBe('sys_exit_mount');
    expect(f.fields.get('ret')).toEqual({ offset: 16, size: 8, signed: true, dataLoc: false });
    expect(parseHeaderPage(read('header_page'))).toEqual({
      timestampOffset: 0,
      commitOffset: 8,
      commitSize: 8,
      dataOffset: 16,
    });
    const moved = new Map(MINI_FORMATS);
    moved.set(
      'syscalls/sys_exit_mount',
      (MINI_FORMATS.get('syscalls/sys_exit_mount') as string).replace('offset:16;', 'offset:24;'),
    );
    const layout = rawLayout(read('header_page'), read('header_event'), moved);
    const fields = Buffer.alloc(24);
    fields.writeBigInt64LE(-13n, 16);
    expect(decode(new PageWriter(1).event(1, 8, 5, fields).commit(), layout).out[0]).toMatchObject({
      kind: 'exit',
      ret: -13,
    });
  });

  test('a record header or page this reader does not know is refused, so the collector reads the text', () => {
    expect(() => checkHeaderEvent(read('header_event').replace('5 bits', '4 bits'))).toThrow(/record header differs/);
    expect(() => parseHeaderPage('\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n')).toThrow(
      /no timestamp, commit or data field/,
    );
    const noRet = new Map([
      [
        'syscalls/sys_exit_mount',
        (MINI_FORMATS.get('syscalls/sys_exit_mount') as string).replace('long ret', 'long value'),
      ],
    ]);
    expect(() => rawLayout(read('header_page'), read('header_event'), noRet)).toThrow(
      /sys_exit_mount has no ret field/,
    );
    expect(() =>
      rawLayout(
        read('header_page'),
        read('header_event'),
        new Map([['sched/sched_switch', read('events/lock/contention_end/format')]]),
      ),
    ).toThrow(/no raw decoder for event sched\/sched_switch/);
  });

  test('saved_cmdlines: names with spaces, junk lines skipped', () => {
    expect(parseSavedCmdlines('12 kubelet -x\n7 systemd\nbad\n 3 x\n0 swapper\n')).toEqual(
      new Map([
        [12, 'kubelet -x'],
        [7, 'systemd'],
      ]),
    );
  });
});

describe('TimeMerge', () => {
  const take = (m: TimeMerge, now: number, into: number[]) => m.release(now, (b, i) => into.push(b.ts[i] as number));
  test('per-CPU runs come out in time order; the newest wait for the next read', () => {
    const m = new TimeMerge(true, 0.01);
    for (const [cpu, ts] of [
      [0, 1.0],
      [0, 1.5],
      [0, 1.995],
      [1, 1.2],
      [1, 1.999],
    ] as const) {
      if (cpu === 1 && ts === 1.2) m.startRun();
      m.pending.push(3, -1, 1, cpu, ts, 0);
    }
    const got: number[] = [];
    take(m, 2.0, got);
    expect(got).toEqual([1.0, 1.2, 1.5]);
    m.startRun();
    m.pending.push(3, -1, 1, 1, 1.997, 0);
    m.startRun();
    m.pending.push(3, -1, 1, 0, 2.5, 0);
    take(m, 3.0, got);
    expect(got).toEqual([1.0, 1.2, 1.5, 1.995, 1.997, 1.999, 2.5]);
  });

  test('many events: columns grow, equal times keep their order', () => {
    const m = new TimeMerge(false);
    // Two CPUs' runs of 2500 events, interleaved in time; equal times go to the earlier run first.
    for (const cpu of [0, 1]) {
      m.startRun();
      for (let i = 0; i < 2500; i++)
        m.pending.push(0, syscallId('mount'), cpu * 10000 + i, cpu, Math.floor(i / 10) + cpu * 0.5, 0);
    }
    const tids: number[] = [];
    m.release(0, (b, i) => tids.push(b.tid[i] as number));
    expect(tids).toHaveLength(5000);
    const ts = (tid: number) => Math.floor((tid % 10000) / 10) + (tid >= 10000 ? 0.5 : 0);
    for (let i = 1; i < tids.length; i++)
      expect(ts(tids[i] as number)).toBeGreaterThanOrEqual(ts(tids[i - 1] as number));
    expect(tids.filter((t) => t < 10000)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
  });

  test('equal times across runs: the earlier run’s event first, as the kernel merges CPUs', () => {
    const m = new TimeMerge(false);
    const runs = [
      [1, 2, 2, 2, 5],
      [2, 2, 3],
      [0, 2, 5],
    ];
    runs.forEach((times, r) => {
      m.startRun();
      times.forEach((t, i) => m.pending.push(3, -1, r * 100 + i, r, t, 0));
    });
    const got: number[] = [];
    m.release(0, (b, i) => got.push(b.tid[i] as number));
    expect(got).toEqual([200, 0, 1, 2, 3, 100, 101, 201, 102, 4, 202]);
  });

  test('times far ahead of the reader’s clock (not CLOCK_MONOTONIC after all): nothing is held', () => {
    const m = new TimeMerge(true);
    m.pending.push(3, -1, 1, 0, 500, 0);
    m.startRun();
    m.pending.push(3, -1, 1, 1, 400, 0);
    const got: number[] = [];
    take(m, 2.0, got);
    expect(got).toEqual([400, 500]);
  });
});
