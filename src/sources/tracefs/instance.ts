/**
 * The exporter's own tracefs instance (`instances/mountstorm-<pid>`): never the global buffer or
 * another tool's instance. Created, read and removed by the kernel-events thread; everything here is
 * synchronous, and removeInstance() also works from the main thread's 'exit' handler after a fatal
 * error (the descriptors are the process's, whichever thread opened them).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errnoCode, errorMessage, UnsupportedError } from '../../errors';
import { NAME_EVENTS, tracedEvents } from './events';
import { rawLayout, type RawLayout } from './format';
import { closeQuietly, removeStaleInstances, withDirLock } from './instances';
import { releaseTracefs, type TracefsMount } from './locate';

/** How the instance's events are read: the ring buffer's binary pages per CPU, or the kernel's text. */
export type TraceFormat = 'auto' | 'raw' | 'text';

/** Descriptors the kernel-events thread reads, opened non-blocking so they close with the instance. */
export type TraceStream =
  | { format: 'text'; fd: number }
  | { format: 'raw'; cpus: Array<{ cpu: number; fd: number }>; layout: RawLayout; pageSize: number };

/** What it takes to remove an instance: plain data, so any thread can do it. */
export interface InstanceHandle {
  dir: string;
  /** Every descriptor open on the instance: it cannot be removed while one is. */
  fds: number[];
  tracefs: TracefsMount;
}

export interface InstanceOptions {
  bufferSizeKb: number;
  format: TraceFormat;
  /** Enable the readers' events (opens of mount table files) too. */
  readers: boolean;
  /** Enable the events now (else they are configured, filters set, and wait for arm()). */
  armed: boolean;
}

function write(file: string, value: string): void {
  fs.writeFileSync(file, value);
}

/** Stops tracing, closes the descriptors, removes the instance, unmounts a tracefs we mounted. Safe to repeat. */
export function removeInstance(h: InstanceHandle): void {
  try {
    write(path.join(h.dir, 'tracing_on'), '0');
  } catch {
    // gone already
  }
  for (const fd of h.fds) closeQuietly(fd);
  h.fds.length = 0;
  for (let i = 0; i < 5; i++) {
    try {
      fs.rmdirSync(h.dir);
      break;
    } catch (err) {
      if (errnoCode(err) !== 'EBUSY') break;
    }
  }
  releaseTracefs(h.tracefs);
}

/** The per-CPU `stats` file: events the ring buffer overwrote (overrun) or dropped. */
export function parseBufferStats(text: string): number {
  const overrun = /^overrun: (\d+)$/m.exec(text);
  const dropped = /^dropped events: (\d+)$/m.exec(text);
  return Number(overrun?.[1] ?? 0) + Number(dropped?.[1] ?? 0);
}

export class TraceInstance {
  readonly stream: TraceStream;
  /** Why the text is read where raw pages were asked for (auto). */
  readonly textReason: string | undefined;
  /** The trace clock is CLOCK_MONOTONIC, so event times compare with the reader's own clock. */
  readonly monoClock: boolean = false;
  /** The events this instance records (once armed). */
  readonly enabled: string[] = [];
  readonly missing: string[] = [];
  readonly handle: InstanceHandle;
  private armedNow = false;

  private constructor(
    tracefs: TracefsMount,
    readonly dir: string,
    /** trace_pipe, opened right after mkdir: it keeps another exporter's stale sweep from removing the instance. */
    pinFd: number,
    opts: InstanceOptions,
    /** Told of what the instance could not do as asked (a clock it could not select). */
    warn: (msg: string) => void,
  ) {
    this.handle = { dir, fds: [pinFd], tracefs };
    try {
      // mono: one clock for all CPUs, so a syscall that migrates between its entry and exit is timed right.
      try {
        write(path.join(dir, 'trace_clock'), 'mono');
        this.monoClock = true;
      } catch (err) {
        warn(`cannot select the mono trace clock; durations across CPU migrations may be off: ${errorMessage(err)}`);
      }
      write(path.join(dir, 'buffer_size_kb'), String(opts.bufferSizeKb));
      for (const { event, filter, optional } of tracedEvents(opts.readers)) {
        const evDir = path.join(dir, 'events', event);
        if (!fs.existsSync(evDir)) {
          this.missing.push(event);
          continue;
        }
        if (filter) {
          try {
            write(path.join(evDir, 'filter'), filter);
          } catch (err) {
            if (!optional) throw err;
            this.missing.push(`${event} (its filter: ${errorMessage(err)})`);
            continue;
          }
        }
        this.enabled.push(event);
      }
      if (!this.enabled.some((e) => e.startsWith('syscalls/'))) {
        throw new UnsupportedError('the kernel has no syscall tracepoints (CONFIG_FTRACE_SYSCALLS)');
      }
      // Fork, exec and PR_SET_NAME events name each task at the time of its calls: raw records carry a
      // pid, not a name, and trace_pipe names a task when its line is read (by then it may have exec'd).
      this.enabled.push(...NAME_EVENTS.filter((e) => fs.existsSync(path.join(dir, 'events', e))));
      let raw: TraceStream | undefined;
      if (opts.format !== 'text') {
        try {
          raw = this.openRaw();
        } catch (err) {
          if (opts.format === 'raw') throw err;
          this.textReason = errorMessage(err);
        }
      }
      this.stream = raw ?? { format: 'text', fd: pinFd };
      if (opts.armed) this.arm(true);
    } catch (err) {
      removeInstance({ ...this.handle, tracefs: { ...tracefs, mountedByUs: false } });
      throw err;
    }
  }

  /** Opens every CPU's trace_pipe_raw, after checking that this reader can decode the kernel's pages. */
  private openRaw(): TraceStream {
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
        cpus.push({
          cpu: Number(cpu),
          fd: fs.openSync(
            path.join(this.dir, 'per_cpu', name, 'trace_pipe_raw'),
            fs.constants.O_RDONLY | fs.constants.O_NONBLOCK,
          ),
        });
      }
      if (cpus.length === 0) throw new UnsupportedError(`no per_cpu/cpu*/trace_pipe_raw under ${this.dir}`);
    } catch (err) {
      for (const { fd } of cpus) closeQuietly(fd);
      throw err;
    }
    this.handle.fds.push(...cpus.map((c) => c.fd));
    return { format: 'raw', cpus, layout, pageSize };
  }

  /**
   * Creates this process's instance, after removing stale ones (their names go to `removedStale`).
   * The name is mountstorm-<pid>; when that is taken by a live exporter (same PID in another PID
   * namespace) a suffix is added.
   */
  static create(
    tracefs: TracefsMount,
    opts: InstanceOptions,
    log: { removedStale(name: string): void; warn(msg: string): void },
  ): TraceInstance {
    return withDirLock(path.join(tracefs.dir, 'instances'), () => {
      const instances = path.join(tracefs.dir, 'instances');
      for (const name of removeStaleInstances(tracefs.dir)) log.removedStale(name);
      let removedUnderUs = 0;
      for (let n = 0; n < 100; n++) {
        const name = n === 0 ? `mountstorm-${process.pid}` : `mountstorm-${process.pid}-${n}`;
        const dir = path.join(instances, name);
        try {
          fs.mkdirSync(dir);
        } catch (err) {
          if (errnoCode(err) === 'EEXIST') continue;
          throw new UnsupportedError(
            `cannot create tracefs instance ${dir}: ${errorMessage(err)} (needs root or CAP_SYS_ADMIN)`,
            { cause: err },
          );
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
        return new TraceInstance(tracefs, dir, pin, opts, (msg) => log.warn(msg));
      }
      throw new UnsupportedError(`cannot create a tracefs instance under ${instances}: 100 names taken`);
    });
  }

  get name(): string {
    return path.basename(this.dir);
  }

  get armed(): boolean {
    return this.armedNow;
  }

  /**
   * Enables (or disables) every event of the instance. While a syscall event is enabled anywhere,
   * every syscall of every task on the host takes the kernel's tracing path: disarmed, the node pays
   * nothing for the instance but its ring buffer's memory.
   */
  arm(on: boolean): void {
    if (on === this.armedNow) return;
    for (const e of this.enabled) write(path.join(this.dir, 'events', e, 'enable'), on ? '1' : '0');
    this.armedNow = on;
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
      try {
        out.set(cpu, parseBufferStats(fs.readFileSync(path.join(this.dir, 'per_cpu', cpu, 'stats'), 'utf8')));
      } catch {
        // that CPU's buffer went away
      }
    }
    return out;
  }

  remove(): void {
    removeInstance(this.handle);
  }
}
