/**
 * The mount-locks thread (thread.ts) as the main thread sees it: one worker the table and the probes
 * share, started on the first call and ended by close() once the collectors using it have closed.
 */
import * as path from 'node:path';
import { WorkerCall } from '../worker-call';
import type { TableAnswer, TableSettings } from '../mount-table/owner';
import type { ProbeRequest, ProbeResponse } from '../probes/protocol';
import type { MountLocksAnswer, MountLocksRequest } from './thread';

type Req = MountLocksRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

export class MountLocksThread {
  private readonly thread = new WorkerCall<Req, MountLocksAnswer>(path.join(__dirname, 'thread.js'));

  /** Calls that timed out and have not been answered yet (only probes time out): the thread is wedged behind them. */
  get late(): number {
    return this.thread.late;
  }

  /** This sample's look at the table; waits as long as the lock does. */
  async table(settings: TableSettings): Promise<TableAnswer> {
    return (await this.thread.call({ to: 'table', settings })) as TableAnswer;
  }

  /** Runs a probe; rejects with `onTimeout()` after `timeoutMs`, counted from when it was sent. */
  async probe(probe: ProbeRequest, timeoutMs: number, onTimeout: () => Error): Promise<ProbeResponse> {
    return (await this.thread.call({ to: 'probe', probe }, timeoutMs, onTimeout)) as ProbeResponse;
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
