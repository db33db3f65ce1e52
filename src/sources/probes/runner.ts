/**
 * Runs timing probes on the mount-locks thread with a timeout. While a probe is stuck in the kernel
 * no new probe is sent (that would pile work onto the stalled lock); the stuck one is reported once
 * as an observation of the whole timeout.
 */
import { ProbeTimeoutError } from '../../errors';
import type { MountLocksThread } from '../mount-locks/source';
import type { ProbeRequest } from './protocol';

export class ProbeRunner {
  constructor(
    private readonly timeoutMs: number,
    private readonly thread: MountLocksThread,
  ) {}

  /** True while an earlier probe is still stuck in the kernel. */
  get wedged(): boolean {
    return this.thread.late > 0;
  }

  /** Seconds the probe took; rejects with ProbeTimeoutError after the timeout. */
  async run(req: ProbeRequest): Promise<number> {
    if (this.wedged) throw new ProbeTimeoutError('an earlier probe is still blocked in the kernel');
    const res = await this.thread.probe(
      req,
      this.timeoutMs,
      () => new ProbeTimeoutError(`${req.kind} probe did not return within ${this.timeoutMs} ms`),
    );
    return res.seconds;
  }
}
