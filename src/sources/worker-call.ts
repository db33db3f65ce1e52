/**
 * Request/response calls to a worker thread, for the work that must not run on the event loop
 * because the kernel may block it (a probe stuck on namespace_sem, a mount table read behind a storm,
 * a trace reader). Each request carries an id; the worker answers `{ id, ... }`, or
 * `{ id, error, code? }` to reject. A call may time out; its id is then remembered as `late` until
 * the answer comes, so callers can hold back instead of piling more threads onto a stalled lock.
 * A worker that ends is started again by the next call; `generation` tells callers whose state
 * lived in it. Messages the worker posts outside the protocol (no numeric id) go to `onPush`.
 */
import { Worker } from 'node:worker_threads';

/** What a worker posts back: the answer with its id, or an error to reject with. */
export type WorkerAnswer<Res> =
  (Res & { id: number; error?: undefined }) | { id: number; error: string; code?: string };

type Pending<Res> = { resolve: (r: Res) => void; reject: (e: Error) => void; timer: NodeJS.Timeout | undefined };

/** An error answered by the worker; `code` carries its errno or error code across the thread. */
export class WorkerCallError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'WorkerCallError';
  }
}

export interface WorkerCallOptions {
  workerData?: unknown;
  /** Messages the worker posts on its own, outside the call protocol (those without a numeric id). */
  onPush?: (message: unknown) => void;
  /** Each worker's end, with why (a crash, its exit, or close()). */
  onExit?: (err: Error) => void;
}

export class WorkerCall<Req extends object, Res extends object> {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending<Res>>();
  private readonly lateIds = new Set<number>();
  private failure: Error | undefined;
  private started = 0;

  constructor(
    private readonly file: string,
    private readonly options: WorkerCallOptions = {},
  ) {}

  /** Calls that timed out and have not been answered yet: the worker is wedged behind them. */
  get late(): number {
    return this.lateIds.size;
  }

  /** Workers started so far: state a caller set up in a worker is gone once this moves on. */
  get generation(): number {
    return this.started;
  }

  /** Why the last worker ended; undefined while the first lives. */
  get lastFailure(): Error | undefined {
    return this.failure;
  }

  /** Starts the worker now rather than on the first call. */
  start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.file, { workerData: this.options.workerData });
    this.started++;
    w.unref();
    w.on('message', (res: WorkerAnswer<Res>) => {
      if (typeof res?.id !== 'number') {
        this.options.onPush?.(res);
        return;
      }
      this.lateIds.delete(res.id);
      const p = this.pending.get(res.id);
      if (!p) return;
      this.pending.delete(res.id);
      if (p.timer) clearTimeout(p.timer);
      if (res.error !== undefined) p.reject(new WorkerCallError(res.error, res.code));
      else p.resolve(res);
    });
    let crashed: Error | undefined;
    w.on('error', (err) => {
      crashed = err;
      this.failAll(err);
    });
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = undefined;
      this.lateIds.clear();
      const why = crashed ?? new Error(`worker ${this.file} exited (code ${code})`);
      this.failAll(why);
      this.options.onExit?.(why);
    });
    this.worker = w;
    return w;
  }

  private failAll(err: Error): void {
    this.failure = err;
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  /** Sends `req` with a fresh id; rejects with `onTimeout()` after `timeoutMs` (none: waits). */
  call(req: Req, timeoutMs?: number, onTimeout?: () => Error): Promise<Res> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<Res>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.pending.delete(id);
              this.lateIds.add(id);
              reject(onTimeout?.() ?? new Error(`worker ${this.file} did not answer within ${timeoutMs} ms`));
            }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ ...req, id });
    });
  }

  /** Posts a message outside the call protocol (a stop request, say). */
  post(message: unknown): void {
    this.worker?.postMessage(message);
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failAll(new Error(`worker ${this.file} closed`));
    if (w) await w.terminate();
  }
}
