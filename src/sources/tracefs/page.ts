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
import { EXIT, NAME } from './aggregator';
import type { RawBatch } from './batch';
import type { Decoder, FieldFormat, RawLayout } from './format';

const RB_MISSED_EVENTS = 2 ** 31;
const RB_MISSED_STORED = 2 ** 30;
const TYPE_PADDING = 29;
const TYPE_TIME_EXTEND = 30;
const TYPE_TIME_STAMP = 31;
const TS_SHIFT = 2 ** 27;

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
 * The name a NAME event gives (task_rename's newcomm, a fork's child_comm), cut to 15 bytes.
 * undefined: the string is not inside the event.
 */
function taskName(buf: Buffer, data: number, end: number, d: Decoder): string | undefined {
  const f = d.value as FieldFormat;
  let from = data + f.offset;
  let to = from + f.size;
  if (f.dataLoc) {
    // The string's offset in the event (low 16 bits) and length (high 16 bits).
    const loc = buf.readUInt32LE(from);
    from = data + (loc & 0xffff);
    to = from + (loc >>> 16);
  }
  if (from > end || to > end) return undefined;
  const nul = buf.indexOf(0, from);
  if (nul >= 0 && nul < to) to = nul;
  return buf.toString('utf8', from, Math.min(to, from + COMM_BYTES));
}

export interface PageResult {
  /** Events lost before this page: the stored count, 1 where the kernel only flagged a loss, else 0. */
  missed: number;
  /** A record that did not fit the page; decoding stopped there. */
  error?: string;
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
    missed = commit - RB_MISSED_EVENTS >= RB_MISSED_STORED && at + 8 <= length ? readU64(v, at) : 1;
  }
  const end = page.dataOffset + size;
  if (end > length)
    return {
      missed,
      error: `page says ${size} bytes of data follow its ${page.dataOffset}-byte header, past the ${length} bytes read`,
    };
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
      if (len < 4 || off + 4 + len > end)
        return { missed, error: `padding of length ${len} at byte ${off} runs past the page's ${size} bytes of data` };
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
    if (data + decoder.need > next)
      return { missed, error: `event ${decoder.event} at byte ${at} is shorter than its format` };
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
