/**
 * Pure decoder for the binary pages of a tracefs instance's per-CPU `trace_pipe_raw`: the ring
 * buffer's own records, copied out by the kernel without formatting them as text. Reading these
 * instead of `trace_pipe` removes the kernel's printf of every event, which was most of what tracing
 * cost a storming node (BENCHMARKS.md).
 *
 * A page (`events/header_page`): u64 timestamp, commit (data length, with RB_MISSED_EVENTS in bit
 * 31 and RB_MISSED_STORED in bit 30: the count of events lost before this page follows the data),
 * then the records. A record (`events/header_event`): a u32 with type_len (5 bits) and time_delta
 * (27 bits, ns since the previous record), then
 *   type_len 1..28: the event, type_len × 4 bytes;
 *   type_len 0:     u32 length (counting itself), then the event;
 *   29 padding:     u32 length (time_delta 0: the rest of the page is empty);
 *   30 time extend: u32 high bits of a delta that did not fit in 27;
 *   31 time stamp:  an absolute timestamp (high bits in the u32).
 * An event starts with common_type (its ID) and common_pid; other fields are read at the offsets its
 * `events/<system>/<event>/format` gives. Every offset and size comes from those files, never from
 * this kernel's layout.
 */
import { ParseError } from '../errors';
import { ENTER, EXIT, LOCK_BEGIN, LOCK_END, NAME, syscallId, syscallName, type TraceAggregator } from './aggregate';
import type { TimedEvent } from './trace-pipe';

const RB_MISSED_EVENTS = 2 ** 31;
const RB_MISSED_STORED = 2 ** 30;
const TYPE_PADDING = 29;
const TYPE_TIME_EXTEND = 30;
const TYPE_TIME_STAMP = 31;
const TS_SHIFT = 2 ** 27;

export interface FieldFormat {
  offset: number;
  size: number;
  signed: boolean;
}

export interface EventFormat {
  name: string;
  id: number;
  fields: Map<string, FieldFormat>;
}

const FIELD = /^\s*field:\s*(.+?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/;

function parseFields(text: string, source: string): Map<string, FieldFormat> {
  const fields = new Map<string, FieldFormat>();
  for (const line of text.split('\n')) {
    const m = FIELD.exec(line);
    if (!m) continue;
    // "unsigned short common_type", "char * dev_name", "char data[4080]"? (the name is the last word)
    const name = /([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[\d*\])?\s*$/.exec(m[1] as string)?.[1];
    if (!name) throw new ParseError(source, 0, `field without a name: ${JSON.stringify(m[1])}`);
    fields.set(name, { offset: Number(m[2]), size: Number(m[3]), signed: m[4] === '1' });
  }
  return fields;
}

/** An `events/<system>/<event>/format` file. */
export function parseEventFormat(text: string, source = 'format'): EventFormat {
  const name = /^name: (\S+)$/m.exec(text)?.[1];
  const id = /^ID: (\d+)$/m.exec(text)?.[1];
  if (!name || id === undefined) throw new ParseError(source, 0, 'no name or ID line');
  return { name, id: Number(id), fields: parseFields(text, source) };
}

/** Where the page header's fields are (`events/header_page`). */
export interface PageLayout {
  timestampOffset: number;
  commitOffset: number;
  commitSize: number;
  dataOffset: number;
}

export function parseHeaderPage(text: string, source = 'events/header_page'): PageLayout {
  const f = parseFields(text, source);
  const ts = f.get('timestamp');
  const commit = f.get('commit');
  const data = f.get('data');
  if (!ts || !commit || !data) throw new ParseError(source, 0, 'no timestamp, commit or data field');
  if (ts.size !== 8 || (commit.size !== 8 && commit.size !== 4)) throw new ParseError(source, 0, `unexpected sizes: timestamp ${ts.size}, commit ${commit.size}`);
  return { timestampOffset: ts.offset, commitOffset: commit.offset, commitSize: commit.size, dataOffset: data.offset };
}

/** The header_event this decoder knows; another layout means a ring buffer it cannot read. */
export function checkHeaderEvent(text: string, source = 'events/header_event'): void {
  const want = [/type_len\s*:\s*5 bits/, /time_delta\s*:\s*27 bits/, /padding\s*:\s*type == 29/, /time_extend\s*:\s*type == 30/, /time_stamp\s*:\s*type == 31/];
  for (const re of want) if (!re.test(text)) throw new ParseError(source, 0, `ring buffer record header differs from the one this reader knows (${re.source})`);
}

/** What an event ID means to the aggregator: its kind (aggregate.ts), and where its value is. */
interface Decoder {
  /** Its path under events/, for messages. */
  event: string;
  kind: number;
  /** syscallId() of a syscall event's name; -1 for others. */
  syscall: number;
  /** The exit's ret, contention_begin's flags, or a NAME event's name (char[] or __data_loc string). */
  value: FieldFormat | undefined;
  /** NAME events: the task renamed (not always the one that ran the event). */
  target?: FieldFormat;
  /** NAME events: the name is the last path component of an exec'd file name (__data_loc). */
  execPath?: boolean;
  /** Bytes of the event the fields read span. */
  need: number;
}

export interface RawLayout {
  page: PageLayout;
  pid: FieldFormat;
  /** By event ID (common_type, a u16): 1 + the decoder's index in `list`, 0 for events not decoded. */
  slot: Uint16Array;
  list: Decoder[];
}

function field(f: EventFormat, name: string, sizes: number[], source: string): FieldFormat {
  const v = f.fields.get(name);
  if (!v || !sizes.includes(v.size)) throw new ParseError(source, 0, `event ${f.name} has no ${name} field of size ${sizes.join(' or ')}`);
  return v;
}

/**
 * Builds the decoder table from the formats of the events an instance enabled (keyed by their path
 * under events/, e.g. "syscalls/sys_exit_mount"). Every event must put common_pid at the same offset.
 */
export function rawLayout(headerPage: string, headerEvent: string, formats: ReadonlyMap<string, string>): RawLayout {
  checkHeaderEvent(headerEvent);
  const page = parseHeaderPage(headerPage);
  const decoders = new Map<number, Decoder>();
  let pid: FieldFormat | undefined;
  for (const [event, text] of formats) {
    const source = `events/${event}/format`;
    const f = parseEventFormat(text, source);
    const p = field(f, 'common_pid', [4], source);
    field(f, 'common_type', [2], source);
    if (pid && (pid.offset !== p.offset || pid.size !== p.size)) throw new ParseError(source, 0, 'common_pid differs between events');
    pid = p;
    const need = (...fs: FieldFormat[]) => Math.max(...fs.map((x) => x.offset + x.size));
    const sys = /^syscalls\/sys_(enter|exit)_(\w+)$/.exec(event);
    let d: Decoder;
    if (sys && sys[1] === 'enter') d = { event, kind: ENTER, syscall: syscallId(sys[2] as string), value: undefined, need: need(p) };
    else if (sys) {
      const ret = field(f, 'ret', [8, 4], source);
      d = { event, kind: EXIT, syscall: syscallId(sys[2] as string), value: ret, need: need(p, ret) };
    } else if (event === 'lock/contention_begin') {
      const flags = field(f, 'flags', [4], source);
      d = { event, kind: LOCK_BEGIN, syscall: -1, value: flags, need: need(p, flags) };
    } else if (event === 'lock/contention_end') d = { event, kind: LOCK_END, syscall: -1, value: undefined, need: need(p) };
    else if (event === 'sched/sched_process_exec') {
      const filename = field(f, 'filename', [4], source);
      const target = field(f, 'pid', [4], source);
      d = { event, kind: NAME, syscall: -1, value: filename, target, execPath: true, need: need(p, filename, target) };
    } else if (event === 'task/task_rename') {
      const newcomm = field(f, 'newcomm', [16], source);
      const target = f.fields.get('pid')?.size === 4 ? (f.fields.get('pid') as FieldFormat) : p;
      d = { event, kind: NAME, syscall: -1, value: newcomm, target, need: need(p, newcomm, target) };
    } else throw new ParseError(source, 0, `no raw decoder for event ${event}`);
    decoders.set(f.id, d);
  }
  if (!pid) throw new ParseError('events', 0, 'no events');
  const list = [...decoders.values()];
  const slot = new Uint16Array(0x10000);
  [...decoders.keys()].forEach((id, i) => (slot[id] = i + 1));
  return { page, pid, slot, list };
}

/**
 * A DataView of the buffer being decoded: its reads compile to plain loads (Buffer's readUInt32LE
 * reads byte by byte). The reader decodes every page into the same buffer, so the view is kept.
 */
let viewOf: Buffer | undefined;
let view = new DataView(new ArrayBuffer(0));
function viewFor(buf: Buffer): DataView {
  if (buf !== viewOf) {
    view = new DataView(buf.buffer as ArrayBuffer, buf.byteOffset, buf.byteLength);
    viewOf = buf;
  }
  return view;
}

function readU64(v: DataView, off: number): number {
  return v.getUint32(off + 4, true) * 2 ** 32 + v.getUint32(off, true);
}

/** TASK_COMM_LEN - 1: the kernel keeps this many bytes of a task's name. */
const COMM_BYTES = 15;

/**
 * The new name a NAME event gives: task_rename's newcomm, or for an exec what the kernel names the
 * task, the file name's last component (kbasename) cut to 15 bytes. undefined: the string is not
 * inside the event.
 */
function taskName(buf: Buffer, data: number, end: number, d: Decoder): string | undefined {
  const f = d.value as FieldFormat;
  let from = data + f.offset;
  let to = from + f.size;
  if (d.execPath) {
    // __data_loc: the string's offset in the event (low 16 bits) and length (high 16 bits).
    const loc = buf.readUInt32LE(from);
    from = data + (loc & 0xffff);
    to = from + (loc >>> 16);
  }
  if (from > end || to > end) return undefined;
  const nul = buf.indexOf(0, from);
  if (nul >= 0 && nul < to) to = nul;
  if (d.execPath) {
    const slash = buf.lastIndexOf(0x2f, to - 1);
    if (slash >= from) from = slash + 1;
  }
  return buf.toString('utf8', from, Math.min(to, from + COMM_BYTES));
}

export interface PageResult {
  /** Events lost before this page: the stored count, 1 where the kernel only flagged a loss, else 0. */
  missed: number;
  /** A record that did not fit the page; decoding stopped there. */
  error?: string;
}

/**
 * Decoded events, one column per field, so that decoding allocates nothing per event. Times are in
 * seconds; `syscall` is a syscall event's syscallId(); `value` is an exit's return value or a
 * contention_begin's flags; `name` is a NAME event's new name.
 */
export class RawBatch {
  n = 0;
  kind = new Uint8Array(1024);
  syscall = new Int16Array(1024);
  tid = new Int32Array(1024);
  cpu = new Int32Array(1024);
  ts = new Float64Array(1024);
  value = new Float64Array(1024);
  name: string[] = [];

  push(kind: number, syscall: number, tid: number, cpu: number, ts: number, value: number, name?: string): void {
    const i = this.n;
    if (i === this.ts.length) this.grow();
    this.kind[i] = kind;
    this.syscall[i] = syscall;
    this.tid[i] = tid;
    this.cpu[i] = cpu;
    this.ts[i] = ts;
    this.value[i] = value;
    if (name !== undefined) this.name[i] = name;
    this.n = i + 1;
  }

  /** Appends event `i` of another batch. */
  copy(from: RawBatch, i: number): void {
    const kind = from.kind[i] as number;
    this.push(kind, from.syscall[i] as number, from.tid[i] as number, from.cpu[i] as number, from.ts[i] as number, from.value[i] as number, kind === NAME ? from.name[i] : undefined);
  }

  private grow(): void {
    const size = this.ts.length * 2;
    const more = <T extends Uint8Array | Int16Array | Int32Array | Float64Array>(a: T, make: new (n: number) => T): T => {
      const b = new make(size);
      b.set(a);
      return b;
    };
    this.kind = more(this.kind, Uint8Array);
    this.syscall = more(this.syscall, Int16Array);
    this.tid = more(this.tid, Int32Array);
    this.cpu = more(this.cpu, Int32Array);
    this.ts = more(this.ts, Float64Array);
    this.value = more(this.value, Float64Array);
  }

  /** Event `i` as an object, as trace_pipe's parser gives it (comm "<...>": raw records carry only the pid). */
  event(i: number): TimedEvent {
    const base = { comm: '<...>', tid: this.tid[i] as number, cpu: this.cpu[i] as number, ts: this.ts[i] as number };
    switch (this.kind[i]) {
      case ENTER:
        return { kind: 'enter', syscall: syscallName(this.syscall[i] as number), ...base };
      case EXIT:
        return { kind: 'exit', syscall: syscallName(this.syscall[i] as number), ...base, ret: this.value[i] as number };
      case LOCK_BEGIN:
        return { kind: 'lock_begin', ...base, flags: this.value[i] as number };
      case NAME:
        return { kind: 'name', ...base, name: this.name[i] as string };
      default:
        return { kind: 'lock_end', ...base };
    }
  }
}

/** Hands event `i` of a batch to the aggregator. */
export function accountEvent(agg: TraceAggregator, b: RawBatch, i: number): void {
  const kind = b.kind[i] as number;
  agg.account(kind, b.syscall[i] as number, b.tid[i] as number, b.cpu[i] as number, b.ts[i] as number, b.value[i] as number, kind === NAME ? b.name[i] : undefined);
}

/**
 * Decodes one page read from `per_cpu/cpu<cpu>/trace_pipe_raw` (the first `length` bytes of `buf`)
 * and appends its events to `out`. Events whose ID the layout does not know are skipped.
 */
export function decodePage(buf: Buffer, length: number, cpu: number, layout: RawLayout, out: RawBatch): PageResult {
  const { page, slot, list } = layout;
  const pidAt = layout.pid.offset;
  if (length < page.dataOffset) return { missed: 0, error: `page of ${length} bytes is shorter than its header` };
  const v = viewFor(buf);
  let ts = readU64(v, page.timestampOffset);
  const commit = v.getUint32(page.commitOffset, true);
  const size = commit % RB_MISSED_STORED;
  let missed = 0;
  if (commit >= RB_MISSED_EVENTS) {
    const at = page.dataOffset + size;
    missed = (commit - RB_MISSED_EVENTS) >= RB_MISSED_STORED && at + 8 <= length ? readU64(v, at) : 1;
  }
  const end = page.dataOffset + size;
  if (end > length) return { missed, error: `page says ${size} bytes of data follow its ${page.dataOffset}-byte header, past the ${length} bytes read` };
  let off = page.dataOffset;
  while (off + 4 <= end) {
    const head = v.getUint32(off, true);
    const typeLen = head & 0x1f;
    const delta = head >>> 5;
    let data: number;
    let next: number;
    if (typeLen === TYPE_PADDING) {
      if (delta === 0) break; // the rest of the page is unused
      ts += delta;
      if (off + 8 > end) return { missed, error: `padding record cut at byte ${off}` };
      const len = v.getUint32(off + 4, true);
      if (len < 4 || off + 4 + len > end) return { missed, error: `padding of length ${len} at byte ${off} runs past the page's ${size} bytes of data` };
      off += 4 + Math.ceil(len / 4) * 4;
      continue;
    }
    if (typeLen === TYPE_TIME_EXTEND || typeLen === TYPE_TIME_STAMP) {
      if (off + 8 > end) return { missed, error: `time record cut at byte ${off}` };
      const t = v.getUint32(off + 4, true) * TS_SHIFT + delta;
      if (typeLen === TYPE_TIME_EXTEND) ts += t;
      else ts = t;
      off += 8;
      continue;
    }
    if (typeLen === 0) {
      if (off + 8 > end) return { missed, error: `record length cut at byte ${off}` };
      const len = v.getUint32(off + 4, true);
      if (len < 4) return { missed, error: `record of length ${len} at byte ${off}` };
      data = off + 8;
      next = off + 4 + Math.ceil(len / 4) * 4;
    } else {
      data = off + 4;
      next = data + typeLen * 4;
    }
    if (next > end) return { missed, error: `record at byte ${off} runs past the page's ${size} bytes of data` };
    ts += delta;
    const at = off;
    off = next;
    if (data + 2 > next) continue;
    const s = slot[v.getUint16(data, true)] as number;
    if (s === 0) continue;
    const decoder = list[s - 1] as Decoder;
    if (data + decoder.need > next) return { missed, error: `event ${decoder.event} at byte ${at} is shorter than its format` };
    const kind = decoder.kind;
    if (kind === NAME) {
      const name = taskName(buf, data, next, decoder);
      if (name === undefined) return { missed, error: `event ${decoder.event} at byte ${at} has a name outside it` };
      out.push(NAME, -1, v.getInt32(data + (decoder.target as FieldFormat).offset, true), cpu, ts / 1e9, 0, name);
      continue;
    }
    let value = 0;
    const f = decoder.value;
    if (f !== undefined) {
      const vo = data + f.offset;
      if (kind !== EXIT) value = v.getUint32(vo, true);
      else if (f.size === 4) value = v.getInt32(vo, true);
      else value = v.getInt32(vo + 4, true) * 2 ** 32 + v.getUint32(vo, true);
    }
    out.push(kind, decoder.syscall, v.getInt32(data + pidAt, true), cpu, ts / 1e9, value);
  }
  return { missed };
}

/** The `saved_cmdlines` file ("<pid> <comm>" lines): the kernel's cache of task names, which trace_pipe uses too. */
export function parseSavedCmdlines(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const pid = Number(line.slice(0, sp));
    if (Number.isInteger(pid) && pid > 0) out.set(pid, line.slice(sp + 1));
  }
  return out;
}

/**
 * Puts events read from per-CPU buffers in time order. Each CPU's events are in order already; the
 * buffers are read one after another, so an event another CPU had not yet committed when its buffer
 * was read can still be older than one read later. Events newer than `holdSeconds` before the read
 * began are held for the next release, by which time every CPU's older events are in.
 */
export class TimeMerge {
  /** decodePage appends here; call startRun() before each CPU's pages. */
  pending = new RawBatch();
  private spare = new RawBatch();
  /** Where each run of events in time order starts in `pending`. */
  private runs: number[] = [0];
  private holdBack: boolean;

  /** `monotonic`: event times are CLOCK_MONOTONIC seconds, comparable with the `now` given to release. */
  constructor(
    monotonic: boolean,
    private readonly holdSeconds = 0.01,
  ) {
    this.holdBack = monotonic;
  }

  /** The events appended from here on are another CPU's. */
  startRun(): void {
    this.runs.push(this.pending.n);
  }

  /**
   * Hands over, oldest first, the events older than `now - holdSeconds` (`now`: when this read
   * began). A k-way merge of the runs: no comparator calls, nothing allocated per event.
   */
  release(now: number, emit: (batch: RawBatch, i: number) => void): void {
    const b = this.pending;
    const ts = b.ts;
    const heads: number[] = [];
    const ends: number[] = [];
    let latest = -Infinity;
    for (let r = 0; r < this.runs.length; r++) {
      const start = this.runs[r] as number;
      const end = r + 1 < this.runs.length ? (this.runs[r + 1] as number) : b.n;
      if (start >= end) continue;
      heads.push(start);
      ends.push(end);
      if ((ts[end - 1] as number) > latest) latest = ts[end - 1] as number;
    }
    // An event stamped well after the read began means the clocks differ: stop holding back.
    if (this.holdBack && latest > now + 1) this.holdBack = false;
    const cutoff = this.holdBack ? now - this.holdSeconds : Infinity;
    // Merged in time order, so once one event is past the cutoff all the rest are: they are kept,
    // still merged, as the next release's first run.
    const held = this.spare;
    held.n = 0;
    for (;;) {
      // The run with the oldest head (the first such run on a tie, as the kernel's own merge), and
      // the oldest head of the others: the first run's events up to that one go out in one stretch.
      let best = -1;
      let bestTs = Infinity;
      let next = -1;
      let nextTs = Infinity;
      for (let r = 0; r < heads.length; r++) {
        const h = heads[r] as number;
        if (h >= (ends[r] as number)) continue;
        const t = ts[h] as number;
        if (best < 0 || t < bestTs) {
          next = best;
          nextTs = bestTs;
          best = r;
          bestTs = t;
        } else if (next < 0 || t < nextTs) {
          next = r;
          nextTs = t;
        }
      }
      if (best < 0) break;
      const end = ends[best] as number;
      const tieFirst = next < 0 || best < next;
      let h = heads[best] as number;
      do {
        if ((ts[h] as number) < cutoff) emit(b, h);
        else held.copy(b, h);
        h++;
      } while (h < end && ((ts[h] as number) < nextTs || (tieFirst && ts[h] === nextTs)));
      heads[best] = h;
    }
    this.spare = b;
    this.pending = held;
    this.runs = [0];
  }
}
