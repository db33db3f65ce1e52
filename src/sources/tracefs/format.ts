/**
 * Pure parsers of the files that describe a tracefs instance's binary records: each event's
 * `events/<system>/<event>/format` (field offsets and sizes), `events/header_page` and
 * `events/header_event` (the ring buffer's page and record headers), and the decoder table built
 * from them. Every offset and size comes from those files, never from this kernel's layout.
 */
import { ParseError } from '../../errors';
import { ENTER, EXIT, LOCK_BEGIN, LOCK_END, NAME } from './aggregator';
import { FLAGS_READ, syscallId } from './events';

export interface FieldFormat {
  offset: number;
  size: number;
  signed: boolean;
  /** A `__data_loc` field: a u32 whose low 16 bits are the data's offset in the event, the high 16 its length. */
  dataLoc: boolean;
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
    fields.set(name, {
      offset: Number(m[2]),
      size: Number(m[3]),
      signed: m[4] === '1',
      dataLoc: (m[1] as string).startsWith('__data_loc'),
    });
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
  if (ts.size !== 8 || (commit.size !== 8 && commit.size !== 4))
    throw new ParseError(source, 0, `unexpected sizes: timestamp ${ts.size}, commit ${commit.size}`);
  return { timestampOffset: ts.offset, commitOffset: commit.offset, commitSize: commit.size, dataOffset: data.offset };
}

/** The header_event this decoder knows; another layout means a ring buffer it cannot read. */
export function checkHeaderEvent(text: string, source = 'events/header_event'): void {
  const want = [
    /type_len\s*:\s*5 bits/,
    /time_delta\s*:\s*27 bits/,
    /padding\s*:\s*type == 29/,
    /time_extend\s*:\s*type == 30/,
    /time_stamp\s*:\s*type == 31/,
  ];
  for (const re of want)
    if (!re.test(text))
      throw new ParseError(
        source,
        0,
        `ring buffer record header differs from the one this reader knows (${re.source})`,
      );
}

/** What an event ID means to the aggregator: its kind (aggregate.ts), and where its value is. */
export interface Decoder {
  /** Its path under events/, for messages. */
  event: string;
  kind: number;
  /** syscallId() of a syscall event's name; -1 for others. */
  syscall: number;
  /** The exit's ret, contention_begin's flags, mount or open_tree entry's flags, or a NAME event's name (char[] or __data_loc string). */
  value: FieldFormat | undefined;
  /** NAME events: the task renamed (not always the one that ran the event). */
  target?: FieldFormat;
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
  if (!v || !sizes.includes(v.size))
    throw new ParseError(source, 0, `event ${f.name} has no ${name} field of size ${sizes.join(' or ')}`);
  return v;
}

/**
 * A string field: `char name[16]` in the event, or a `__data_loc char[]` (the event's fields that
 * hold a task's name became these in 6.x kernels: sched_process_fork's child_comm on 6.18).
 */
function stringField(f: EventFormat, name: string, source: string): FieldFormat {
  const v = f.fields.get(name);
  if (!v || !(v.dataLoc ? v.size === 4 : v.size === 16))
    throw new ParseError(source, 0, `event ${f.name} has no ${name} field of char[16] or __data_loc char[]`);
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
    if (pid && (pid.offset !== p.offset || pid.size !== p.size))
      throw new ParseError(source, 0, 'common_pid differs between events');
    pid = p;
    const need = (...fs: FieldFormat[]) => Math.max(...fs.map((x) => x.offset + x.size));
    const sys = /^syscalls\/sys_(enter|exit)_(\w+)$/.exec(event);
    let d: Decoder;
    if (sys && sys[1] === 'enter') {
      // mount and open_tree: the flags that say whether the call makes a mount (makesMount); the low 32 bits are read.
      const flags = FLAGS_READ.has(sys[2] as string) ? field(f, 'flags', [8, 4], source) : undefined;
      d = {
        event,
        kind: ENTER,
        syscall: syscallId(sys[2] as string),
        value: flags,
        need: flags ? need(p, flags) : need(p),
      };
    } else if (sys) {
      const ret = field(f, 'ret', [8, 4], source);
      d = { event, kind: EXIT, syscall: syscallId(sys[2] as string), value: ret, need: need(p, ret) };
    } else if (event === 'lock/contention_begin') {
      const flags = field(f, 'flags', [4], source);
      d = { event, kind: LOCK_BEGIN, syscall: -1, value: flags, need: need(p, flags) };
    } else if (event === 'lock/contention_end')
      d = { event, kind: LOCK_END, syscall: -1, value: undefined, need: need(p) };
    else if (event === 'sched/sched_process_fork') {
      // A new task (a thread too) starts with its parent's name; the event is recorded before it first runs.
      const childComm = stringField(f, 'child_comm', source);
      const target = field(f, 'child_pid', [4], source);
      d = { event, kind: NAME, syscall: -1, value: childComm, target, need: need(p, childComm, target) };
    } else if (event === 'task/task_rename') {
      const newcomm = stringField(f, 'newcomm', source);
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
