/** Decoded trace events in columns, so that decoding allocates nothing per event. */
import { ENTER, EXIT, LOCK_BEGIN, NAME, type TraceAggregator } from './aggregator';
import { FLAGS_READ, syscallName } from './events';
import type { TimedEvent } from './trace-pipe';

/**
 * Decoded events, one column per field, so that decoding allocates nothing per event. Times are in
 * seconds; `syscall` is a syscall event's syscallId(); `value` is an exit's return value, a
 * contention_begin's flags or a mount or open_tree entry's flags; `name` is a NAME event's new name.
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
    this.push(
      kind,
      from.syscall[i] as number,
      from.tid[i] as number,
      from.cpu[i] as number,
      from.ts[i] as number,
      from.value[i] as number,
      kind === NAME ? from.name[i] : undefined,
    );
  }

  private grow(): void {
    const size = this.ts.length * 2;
    const more = <T extends Uint8Array | Int16Array | Int32Array | Float64Array>(
      a: T,
      make: new (n: number) => T,
    ): T => {
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
      case ENTER: {
        const syscall = syscallName(this.syscall[i] as number);
        return FLAGS_READ.has(syscall)
          ? { kind: 'enter', syscall, ...base, flags: this.value[i] as number }
          : { kind: 'enter', syscall, ...base };
      }
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
  agg.account(
    kind,
    b.syscall[i] as number,
    b.tid[i] as number,
    b.cpu[i] as number,
    b.ts[i] as number,
    b.value[i] as number,
    kind === NAME ? b.name[i] : undefined,
  );
}
