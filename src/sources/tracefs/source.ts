/**
 * The tracefs source as the main thread sees it: a trace thread (thread.ts) that owns the instance,
 * asked once per sample for what changed since the last sample. Nothing here touches the kernel,
 * except in the one place that must: when the thread can no longer remove its instance (it died,
 * or the process is exiting after a fatal error), the 'exit' handler removes it synchronously.
 */
import * as path from 'node:path';
import { UnsupportedError } from '../../errors';
import { WorkerCall } from '../worker-call';
import type { TraceDelta } from './aggregator';
import { removeInstance, type InstanceHandle } from './instance';
import type { OpenedInstance, TraceAnswer, TraceRequest, TraceThreadData } from './thread';

type Req = TraceRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

const ANSWER_TIMEOUT_MS = 5_000;
/** Opening takes a turn on instances/, which may wait up to 5 s for another exporter. */
const OPEN_TIMEOUT_MS = 15_000;

export class TraceSource {
  private handle: InstanceHandle | undefined;
  private acked = true;
  private readonly onExit = () => this.removeHere();

  private constructor(
    private readonly thread: WorkerCall<Req, TraceAnswer>,
    readonly opened: OpenedInstance,
  ) {
    this.handle = opened.handle;
    process.on('exit', this.onExit);
  }

  /** Starts the thread and opens the instance; rejects with UnsupportedError saying why where tracefs cannot be used. */
  static async open(data: TraceThreadData): Promise<TraceSource> {
    // No respawn: the thread owns the instance's descriptors; a dead source is replaced whole.
    const thread = new WorkerCall<Req, TraceAnswer>(path.join(__dirname, 'thread.js'), {
      workerData: data,
      respawn: false,
    });
    let answer: TraceAnswer;
    try {
      answer = await thread.call(
        { op: 'open' },
        OPEN_TIMEOUT_MS,
        () => new UnsupportedError(`the trace thread did not open an instance within ${OPEN_TIMEOUT_MS} ms`),
      );
    } catch (err) {
      await thread.close();
      throw err instanceof UnsupportedError ? err : new UnsupportedError((err as Error).message, { cause: err });
    }
    return new TraceSource(thread, answer.opened as OpenedInstance);
  }

  get dead(): Error | undefined {
    return this.thread.dead;
  }

  /** What the thread read since the last call that was answered (a late answer is sent again, with what came since). */
  async take(): Promise<{ delta: TraceDelta; readError?: string }> {
    const acked = this.acked;
    this.acked = false;
    const a = await this.thread.call(
      { op: 'take', acked },
      ANSWER_TIMEOUT_MS,
      () => new Error(`trace thread did not answer within ${ANSWER_TIMEOUT_MS} ms`),
    );
    this.acked = true;
    return { delta: a.delta as TraceDelta, readError: a.readError };
  }

  /** Enables (or disables) the instance's events: while none is enabled the host pays nothing for tracing. */
  async arm(on: boolean): Promise<void> {
    await this.thread.call(
      { op: 'arm', on },
      ANSWER_TIMEOUT_MS,
      () => new Error(`trace thread did not ${on ? 'arm' : 'disarm'} within ${ANSWER_TIMEOUT_MS} ms`),
    );
  }

  /** The thread removes its instance and ends; where it cannot, this thread does. */
  async close(): Promise<void> {
    try {
      if (!this.thread.dead) {
        await this.thread.call({ op: 'close' }, ANSWER_TIMEOUT_MS);
        this.handle = undefined;
      }
    } catch {
      // the thread is stuck or gone: removed below
    }
    await this.thread.close();
    this.removeHere();
  }

  private removeHere(): void {
    process.off('exit', this.onExit);
    if (this.handle) removeInstance(this.handle);
    this.handle = undefined;
  }
}
