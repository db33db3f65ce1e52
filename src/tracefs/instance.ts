/**
 * The exporter's own tracefs instance (`instances/mountstorm-<pid>`): never the global buffer or
 * another tool's instance. Everything here is synchronous on purpose: removal must also work from a
 * process 'exit' handler, after a fatal error.
 *
 * Liveness of an instance is read from the kernel, not from PIDs (which differ across PID
 * namespaces): an instance whose trace_pipe or a trace_pipe_raw is open cannot be removed (rmdir
 * gives EBUSY), so every other `mountstorm-*` instance that rmdir accepts belonged to an exporter
 * that is gone. Exporters starting together take turns (flock on the `instances` directory, which
 * all mount namespaces share) from removing stale instances to pinning their new one, so none
 * takes another's instance, made but not yet pinned, for a dead exporter's.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errnoCode, errorMessage, UnsupportedError } from '../errors';
import type { HostPaths } from '../fs/paths';
import type { Logger } from '../log';
import { mount, umount2 } from '../storm/syscalls';
import { errno, libc } from '../sys/libc';
import { TRACED_SYSCALLS } from './aggregate';
import { rawLayout, type RawLayout } from './raw';

const TRACEFS_MAGIC = 0x74726163;
const SYSFS_MAGIC = 0x62656572;
const INSTANCE_NAME = /^mountstorm-\d+(?:-\d+)?$/;
/** Events that rename a task, read with raw pages only (trace_pipe names tasks itself). */
const NAME_EVENTS = ['sched/sched_process_exec', 'task/task_rename'];

const flock = libc.func('int flock(int fd, int operation)');
const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = os.constants.errno.EWOULDBLOCK;
/** How long create() waits for another exporter's turn before going ahead without the lock. */
const LOCK_WAIT_MS = 5000;

/**
 * Runs `fn` holding an exclusive flock on `dir` (closing the descriptor releases it). Waits, in
 * 10 ms steps and never blocked in the kernel, up to LOCK_WAIT_MS for another holder; goes ahead
 * unlocked where locking fails or takes longer, since no holder takes seconds and create() copes
 * with a lost race anyway.
 */
function withDirLock<T>(dir: string, fn: () => T): T {
  let fd: number;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch {
    return fn();
  }
  try {
    const deadline = Date.now() + LOCK_WAIT_MS;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while ((flock(fd, LOCK_EX | LOCK_NB) as number) !== 0 && errno() === EWOULDBLOCK && Date.now() < deadline) Atomics.wait(pause, 0, 0, 10);
    return fn();
  } finally {
    closeQuietly(fd);
  }
}

function fsType(p: string): number | undefined {
  try {
    return fs.statfsSync(p).type;
  } catch {
    return undefined;
  }
}

/** Whether `dir` is a tracefs mount (by its filesystem magic, not its path). */
export function isTracefs(dir: string): boolean {
  return fsType(dir) === TRACEFS_MAGIC;
}

/** Where tracefs is looked for, in order: the configured path alone, else <sysfs>/kernel/tracing, then <sysfs>/kernel/debug/tracing. */
export function tracefsCandidates(paths: HostPaths, configured: string | undefined): string[] {
  return configured !== undefined ? [configured] : [paths.sys('kernel/tracing'), paths.sys('kernel/debug/tracing')];
}

export interface TracefsMount {
  dir: string;
  /** We mounted it (no tracefs was mounted), so we unmount it on exit. */
  mountedByUs: boolean;
}

/**
 * Finds tracefs: the configured path, else <sysfs>/kernel/tracing, else <sysfs>/kernel/debug/tracing.
 * When none is mounted and <sysfs> is a real sysfs, mounts tracefs at <sysfs>/kernel/tracing (where
 * systemd would have mounted it), as perf and bpftrace do.
 */
export function locateTracefs(paths: HostPaths, configured: string | undefined): TracefsMount {
  const found = tracefsCandidates(paths, configured).find(isTracefs);
  if (found !== undefined) return { dir: found, mountedByUs: false };
  if (configured !== undefined) throw new UnsupportedError(`--collector.tracefs.path ${configured} is not a tracefs mount`);
  const primary = paths.sys('kernel/tracing');
  if (fsType(paths.sys('kernel')) !== SYSFS_MAGIC || !fs.existsSync(primary)) {
    throw new UnsupportedError(`no tracefs at ${primary} (${paths.sysfs} is not the kernel's sysfs, so nothing is mounted there)`);
  }
  try {
    mount('tracefs', primary, 'tracefs', 0);
  } catch (err) {
    throw new UnsupportedError(`no tracefs at ${primary} and mounting one failed: ${errorMessage(err)} (needs CAP_SYS_ADMIN)`, { cause: err });
  }
  return { dir: primary, mountedByUs: true };
}

/** Removes the `mountstorm-*` instances whose exporter is gone; returns their names. */
export function removeStaleInstances(tracefsDir: string, keep?: string): string[] {
  const dir = path.join(tracefsDir, 'instances');
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!INSTANCE_NAME.test(name) || name === keep) continue;
    try {
      fs.rmdirSync(path.join(dir, name));
      removed.push(name);
    } catch (err) {
      // EBUSY: in use, its exporter lives; ENOENT/ENODEV: removed, or being removed, by another.
      const code = errnoCode(err);
      if (code !== 'EBUSY' && code !== 'ENOENT' && code !== 'ENODEV') throw err;
    }
  }
  return removed;
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // closed already
  }
}

function write(file: string, value: string): void {
  fs.writeFileSync(file, value);
}

/** How the instance's events are read: the ring buffer's binary pages per CPU, or the kernel's text. */
export type TraceFormat = 'auto' | 'raw' | 'text';

/** Descriptors the reader thread reads, opened non-blocking here so they close with the instance. */
export type TraceSource =
  | { format: 'text'; fd: number }
  | { format: 'raw'; cpus: Array<{ cpu: number; fd: number }>; layout: RawLayout; pageSize: number };

export interface InstanceOptions {
  bufferSizeKb: number;
  format: TraceFormat;
  log: Logger;
}

export class TraceInstance {
  readonly source: TraceSource;
  /** Why the text is read where raw pages were asked for (auto). */
  readonly textReason: string | undefined;
  /** The trace clock is CLOCK_MONOTONIC, so event times compare with the reader's own clock. */
  readonly monoClock: boolean = false;
  readonly enabled: string[] = [];
  readonly missing: string[] = [];
  private removed = false;
  private readonly onExit = () => this.remove();

  private constructor(
    readonly tracefs: TracefsMount,
    readonly dir: string,
    /** trace_pipe, opened right after mkdir: it keeps another exporter's stale sweep from removing the instance. */
    private readonly pinFd: number,
    opts: InstanceOptions,
  ) {
    try {
      // mono: one clock for all CPUs, so a syscall that migrates between its entry and exit is timed right.
      try {
        write(path.join(dir, 'trace_clock'), 'mono');
        this.monoClock = true;
      } catch (err) {
        opts.log.warn('tracefs: cannot select the mono trace clock; durations across CPU migrations may be off', { err: errorMessage(err) });
      }
      write(path.join(dir, 'buffer_size_kb'), String(opts.bufferSizeKb));
      const events: Array<{ event: string; filter?: string }> = [];
      for (const s of TRACED_SYSCALLS) {
        events.push({ event: `syscalls/sys_enter_${s.name}`, filter: s.enterFilter });
        if (s.exit) events.push({ event: `syscalls/sys_exit_${s.name}` });
      }
      events.push({ event: 'lock/contention_begin' }, { event: 'lock/contention_end' });
      for (const { event, filter } of events) {
        const evDir = path.join(dir, 'events', event);
        if (!fs.existsSync(evDir)) {
          this.missing.push(event);
          continue;
        }
        if (filter) write(path.join(evDir, 'filter'), filter);
        write(path.join(evDir, 'enable'), '1');
        this.enabled.push(event);
      }
      if (!this.enabled.some((e) => e.startsWith('syscalls/'))) {
        throw new UnsupportedError('the kernel has no syscall tracepoints (CONFIG_FTRACE_SYSCALLS)');
      }
      let raw: TraceSource | undefined;
      if (opts.format !== 'text') {
        // Raw records carry a pid, not a name: exec and PR_SET_NAME events keep the reader's names right.
        const naming = NAME_EVENTS.filter((e) => fs.existsSync(path.join(dir, 'events', e)));
        for (const e of naming) write(path.join(dir, 'events', e, 'enable'), '1');
        this.enabled.push(...naming);
        try {
          raw = this.openRaw();
        } catch (err) {
          if (opts.format === 'raw') throw err;
          this.textReason = errorMessage(err);
          for (const e of naming) write(path.join(dir, 'events', e, 'enable'), '0');
          this.enabled.splice(this.enabled.length - naming.length);
        }
      }
      this.source = raw ?? { format: 'text', fd: pinFd };
    } catch (err) {
      closeQuietly(pinFd);
      this.rmdir();
      throw err;
    }
    process.on('exit', this.onExit);
  }

  /** Opens every CPU's trace_pipe_raw, after checking that this reader can decode the kernel's pages. */
  private openRaw(): TraceSource {
    if (os.endianness() !== 'LE') throw new UnsupportedError('trace_pipe_raw is decoded on little-endian hosts only');
    const read = (f: string) => fs.readFileSync(path.join(this.dir, f), 'utf8');
    const formats = new Map(this.enabled.map((e) => [e, read(`events/${e}/format`)]));
    const layout = rawLayout(read('events/header_page'), read('events/header_event'), formats);
    // A sub-buffer may be larger than a page (buffer_subbuf_size_kb, Linux 6.8+); a read returns one.
    let pageSize = 4096;
    try {
      pageSize = Math.max(pageSize, Number(read('buffer_subbuf_size_kb').trim()) * 1024 || 0);
    } catch {
      // older kernel: sub-buffers are pages
    }
    const cpus: Array<{ cpu: number; fd: number }> = [];
    try {
      for (const name of fs.readdirSync(path.join(this.dir, 'per_cpu'))) {
        const cpu = /^cpu(\d+)$/.exec(name)?.[1];
        if (cpu === undefined) continue;
        cpus.push({ cpu: Number(cpu), fd: fs.openSync(path.join(this.dir, 'per_cpu', name, 'trace_pipe_raw'), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK) });
      }
      if (cpus.length === 0) throw new UnsupportedError(`no per_cpu/cpu*/trace_pipe_raw under ${this.dir}`);
    } catch (err) {
      for (const { fd } of cpus) closeQuietly(fd);
      throw err;
    }
    return { format: 'raw', cpus, layout, pageSize };
  }

  /**
   * Creates this process's instance, after removing stale ones. The name is mountstorm-<pid>; when
   * that is taken by a live exporter (same PID in another PID namespace) a suffix is added.
   */
  static create(tracefs: TracefsMount, opts: InstanceOptions): TraceInstance {
    return withDirLock(path.join(tracefs.dir, 'instances'), () => TraceInstance.createLocked(tracefs, opts));
  }

  private static createLocked(tracefs: TracefsMount, opts: InstanceOptions): TraceInstance {
    const instances = path.join(tracefs.dir, 'instances');
    for (const name of removeStaleInstances(tracefs.dir)) opts.log.info('tracefs: removed a stale instance left by an exporter that is gone', { instance: name });
    let removedUnderUs = 0;
    for (let n = 0; n < 100; n++) {
      const name = n === 0 ? `mountstorm-${process.pid}` : `mountstorm-${process.pid}-${n}`;
      const dir = path.join(instances, name);
      try {
        fs.mkdirSync(dir);
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') continue;
        throw new UnsupportedError(`cannot create tracefs instance ${dir}: ${errorMessage(err)} (needs root or CAP_SYS_ADMIN)`, { cause: err });
      }
      // Until a file in it is open, an exporter that does not take turns (an older version) would
      // take the new instance for a dead one's and remove it: open trace_pipe at once, and start
      // again if it is already gone (ENOENT) or being removed (ENODEV: its trace array is going away).
      let pin: number;
      try {
        pin = fs.openSync(path.join(dir, 'trace_pipe'), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      } catch (err) {
        const code = errnoCode(err);
        if ((code === 'ENOENT' || code === 'ENODEV') && ++removedUnderUs < 5) {
          n--;
          continue;
        }
        throw new UnsupportedError(`cannot open ${dir}/trace_pipe: ${errorMessage(err)}`, { cause: err });
      }
      return new TraceInstance(tracefs, dir, pin, opts);
    }
    throw new UnsupportedError(`cannot create a tracefs instance under ${instances}: 100 names taken`);
  }

  get name(): string {
    return path.basename(this.dir);
  }

  /** Per-CPU events the ring buffer overwrote or dropped (`per_cpu/cpuN/stats`), keyed by CPU. */
  lostByCpu(): Map<string, number> {
    const out = new Map<string, number>();
    let cpus: string[];
    try {
      cpus = fs.readdirSync(path.join(this.dir, 'per_cpu'));
    } catch {
      return out;
    }
    for (const cpu of cpus) {
      let text: string;
      try {
        text = fs.readFileSync(path.join(this.dir, 'per_cpu', cpu, 'stats'), 'utf8');
      } catch {
        continue;
      }
      const overrun = /^overrun: (\d+)$/m.exec(text);
      const dropped = /^dropped events: (\d+)$/m.exec(text);
      out.set(cpu, Number(overrun?.[1] ?? 0) + Number(dropped?.[1] ?? 0));
    }
    return out;
  }

  private rmdir(): void {
    for (let i = 0; i < 5; i++) {
      try {
        fs.rmdirSync(this.dir);
        return;
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return;
        if (errnoCode(err) !== 'EBUSY') return;
      }
    }
  }

  /** Stops tracing, closes trace_pipe and removes the instance; safe to call more than once. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    process.off('exit', this.onExit);
    try {
      write(path.join(this.dir, 'tracing_on'), '0');
    } catch {
      // gone already
    }
    closeQuietly(this.pinFd);
    if (this.source.format === 'raw') for (const { fd } of this.source.cpus) closeQuietly(fd);
    this.rmdir();
    if (this.tracefs.mountedByUs) {
      try {
        umount2(this.tracefs.dir);
      } catch {
        // another tracer uses it now: leave it mounted
      }
    }
  }
}
