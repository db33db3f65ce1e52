/**
 * What the aggregator keeps per task: its traced syscall in flight and its by-process slot. Columns
 * of typed arrays, addressed by an open-addressing hash of the tid (linear probing, at most half
 * full), so an event costs a multiply and a probe or two, where a Map lookup cost several times that
 * and allocated per task. An entry stays after its syscall ends, so a busy task reuses it; entries
 * go only through retain(), which rebuilds the table.
 */
export class TaskTable {
  size = 0;
  private bits = 0;
  private used = new Uint8Array(0);
  private tids = new Int32Array(0);
  /** Index in TRACED_SYSCALLS of the syscall in flight; -1: none. */
  syscall = new Int8Array(0);
  /** When its syscall in flight (or its last one) began. */
  start = new Float64Array(0);
  /** When its pending lock wait began; -1: none. */
  lockStart = new Float64Array(0);
  /** Index in LOCK_KINDS. */
  lockKind = new Uint8Array(0);
  /** 1: its syscall in flight makes a mount if it succeeds (makesMount). */
  makes = new Uint8Array(0);
  /** Its by-process slot, where its name came from resolveComm; -1: not asked yet. */
  slot = new Int32Array(0);

  constructor() {
    this.rebuild(6, () => true);
  }

  private home(tid: number): number {
    return Math.imul(tid, 0x9e3779b1) >>> (32 - this.bits);
  }

  /** The entry of `tid`; -1: none. */
  find(tid: number): number {
    const mask = (1 << this.bits) - 1;
    for (let i = this.home(tid); ; i = (i + 1) & mask) {
      if (this.used[i] === 0) return -1;
      if (this.tids[i] === tid) return i;
    }
  }

  /** A new entry for `tid` (which has none): no syscall, no slot. */
  insert(tid: number): number {
    if ((this.size + 1) * 2 > 1 << this.bits) this.rebuild(this.bits + 1, () => true);
    const mask = (1 << this.bits) - 1;
    let i = this.home(tid);
    while (this.used[i] !== 0) i = (i + 1) & mask;
    this.used[i] = 1;
    this.tids[i] = tid;
    this.syscall[i] = -1;
    this.start[i] = 0;
    this.lockStart[i] = -1;
    this.lockKind[i] = 0;
    this.makes[i] = 0;
    this.slot[i] = -1;
    this.size++;
    return i;
  }

  /** Keeps only the entries `keep` accepts. */
  retain(keep: (entry: number) => boolean): void {
    this.rebuild(this.bits, keep);
  }

  forgetSlots(): void {
    this.slot.fill(-1);
  }

  /** `keep` is asked about every entry before any moves: it reads the columns as they were. */
  private rebuild(bits: number, keep: (entry: number) => boolean): void {
    const kept: number[] = [];
    for (let j = 0; j < this.used.length; j++) if (this.used[j] !== 0 && keep(j)) kept.push(j);
    const old = {
      tids: this.tids,
      syscall: this.syscall,
      start: this.start,
      lockStart: this.lockStart,
      lockKind: this.lockKind,
      makes: this.makes,
      slot: this.slot,
    };
    const n = 1 << bits;
    this.bits = bits;
    this.used = new Uint8Array(n);
    this.tids = new Int32Array(n);
    this.syscall = new Int8Array(n).fill(-1);
    this.start = new Float64Array(n);
    this.lockStart = new Float64Array(n);
    this.lockKind = new Uint8Array(n);
    this.makes = new Uint8Array(n);
    this.slot = new Int32Array(n);
    this.size = 0;
    for (const j of kept) {
      const i = this.insert(old.tids[j] as number);
      this.syscall[i] = old.syscall[j] as number;
      this.start[i] = old.start[j] as number;
      this.lockStart[i] = old.lockStart[j] as number;
      this.lockKind[i] = old.lockKind[j] as number;
      this.makes[i] = old.makes[j] as number;
      this.slot[i] = old.slot[j] as number;
    }
  }
}
