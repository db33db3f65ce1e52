/**
 * Runs timing probes in a worker thread with a timeout. While a probe is stuck in the kernel no new
 * probe is sent (that would pile threads onto the stalled lock); the stuck one is reported once as
 * an observation of the whole timeout.
 */
import * as path from 'node:path';
import { ProbeTimeoutError } from '../../errors';
import { WorkerCall } from '../worker-call';
import type { ProbeRequest, ProbeResponse } from './protocol';

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;

export class ProbeRunner {
  private readonly worker = new WorkerCall<Distribute<ProbeRequest>, ProbeResponse>(path.join(__dirname, 'thread.js'));

  constructor(private readonly timeoutMs: number) {}

  /** True while an earlier probe is still stuck in the kernel. */
  get wedged(): boolean {
    return this.worker.late > 0;
  }

  /** Seconds the probe took; rejects with ProbeTimeoutError after the timeout. */
  async run(req: Distribute<ProbeRequest>): Promise<number> {
    if (this.wedged) throw new ProbeTimeoutError('an earlier probe is still blocked in the kernel');
    const res = await this.worker.call(
      req,
      this.timeoutMs,
      () => new ProbeTimeoutError(`${req.kind} probe did not return within ${this.timeoutMs} ms`),
    );
    return res.seconds;
  }

  async close(): Promise<void> {
    await this.worker.close();
  }
}
