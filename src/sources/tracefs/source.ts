/**
 * The tracefs source as the main thread sees it: a trace owner (owner.ts) on the kernel-events
 * thread that owns the instance, asked once per sample for what changed since the last sample.
 * Nothing here touches the kernel, except in the one place that must: when the thread can no longer
 * remove its instance (it died, or the process is exiting after a fatal error), the 'exit' handler
 * removes it synchronously.
 */
import { UnsupportedError } from '../../errors';
import type { KernelEventsThread } from '../kernel-events/source';
import type { TraceDelta } from './aggregator';
import { removeInstance, type InstanceHandle } from './instance';
import type { OpenedInstance, TraceRequest, TraceSettings } from './owner';

const ANSWER_TIMEOUT_MS = 5_000;
/** Opening takes a turn on instances/, which may wait up to 5 s for another exporter. */
const OPEN_TIMEOUT_MS = 15_000;

export class TraceSource {
  private handle: InstanceHandle | undefined;
  private acked = true;
  private readonly onExit = () => this.removeHere();

  private constructor(
    private readonly thread: KernelEventsThread,
    private readonly owner: number,
    /** The thread's generation the instance was opened in: a thread started since has none of it. */
    private readonly generation: number,
    readonly opened: OpenedInstance,
  ) {
    this.handle = opened.handle;
    process.on('exit', this.onExit);
  }

  /** Opens the instance on the thread; rejects with UnsupportedError saying why where tracefs cannot be used. */
  static async open(settings: TraceSettings, thread: KernelEventsThread): Promise<TraceSource> {
    const owner = thread.newOwner();
    let answer;
    try {
      answer = await thread.trace(
        owner,
        { op: 'open', settings },
        OPEN_TIMEOUT_MS,
        () => new UnsupportedError(`the trace thread did not open an instance within ${OPEN_TIMEOUT_MS} ms`),
      );
    } catch (err) {
      throw err instanceof UnsupportedError ? err : new UnsupportedError((err as Error).message, { cause: err });
    }
    return new TraceSource(thread, owner, thread.generation, answer.opened as OpenedInstance);
  }

  /** Why the thread that holds the instance is gone, once it is (the source is then replaced whole). */
  get dead(): Error | undefined {
    return this.thread.generation === this.generation
      ? undefined
      : (this.thread.lastFailure ?? new Error('the trace thread ended'));
  }

  private call(req: TraceRequest, what: string) {
    return this.thread.trace(
      this.owner,
      req,
      ANSWER_TIMEOUT_MS,
      () => new Error(`trace thread did not ${what} within ${ANSWER_TIMEOUT_MS} ms`),
    );
  }

  /** What the thread read since the last call that was answered (a late answer is sent again, with what came since). */
  async take(): Promise<{ delta: TraceDelta; readError?: string }> {
    const acked = this.acked;
    this.acked = false;
    const a = await this.call({ op: 'take', acked }, 'answer');
    this.acked = true;
    return { delta: a.delta as TraceDelta, readError: a.readError };
  }

  /** Enables (or disables) the instance's events: while none is enabled the host pays nothing for tracing. */
  async arm(on: boolean): Promise<void> {
    await this.call({ op: 'arm', on }, on ? 'arm' : 'disarm');
  }

  /** The thread removes its instance; where it cannot, this thread does. */
  async close(): Promise<void> {
    try {
      if (!this.dead) {
        await this.call({ op: 'close' }, 'close');
        this.handle = undefined;
      }
    } catch {
      // the thread is stuck or gone: removed below
    }
    this.removeHere();
  }

  private removeHere(): void {
    process.off('exit', this.onExit);
    if (this.handle) removeInstance(this.handle);
    this.handle = undefined;
  }
}
