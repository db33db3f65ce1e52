/**
 * Runs timing probes in a worker thread with a timeout. While a probe is stuck in the kernel no new
 * probe is sent (that would pile threads onto the stalled lock); the stuck one is reported once as
 * an observation of the whole timeout.
 */
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { ProbeTimeoutError } from '../errors';
import type { ProbeRequest, ProbeResponse } from './protocol';

type Pending = { resolve: (s: number) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;

export class ProbeRunner {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Ids that timed out and have not come back yet: the worker is wedged behind them. */
  private readonly stuck = new Set<number>();

  constructor(private readonly timeoutMs: number) {}

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(path.join(__dirname, 'worker.js'));
    w.unref();
    w.on('message', (res: ProbeResponse) => {
      this.stuck.delete(res.id);
      const p = this.pending.get(res.id);
      if (!p) return;
      this.pending.delete(res.id);
      clearTimeout(p.timer);
      if ('error' in res) p.reject(new Error(res.error));
      else p.resolve(res.seconds);
    });
    w.on('error', (err) => this.failAll(err));
    w.on('exit', () => {
      this.worker = undefined;
      this.stuck.clear();
      this.failAll(new Error('probe worker exited'));
    });
    this.worker = w;
    return w;
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
  }

  /** True while an earlier probe is still stuck in the kernel. */
  get wedged(): boolean {
    return this.stuck.size > 0;
  }

  /** Seconds the probe took; rejects with ProbeTimeoutError after the timeout. */
  run(req: Distribute<ProbeRequest>): Promise<number> {
    if (this.wedged) return Promise.reject(new ProbeTimeoutError('an earlier probe is still blocked in the kernel'));
    const id = this.nextId++;
    const worker = this.ensureWorker();
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.stuck.add(id);
        reject(new ProbeTimeoutError(`${req.kind} probe did not return within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ ...req, id } as ProbeRequest);
    });
  }

  async close(): Promise<void> {
    this.failAll(new Error('probe runner closed'));
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
