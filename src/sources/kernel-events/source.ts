/**
 * The kernel-events thread (thread.ts) as the main thread sees it: one worker the trace source and
 * the mount-namespaces source share, started on first use and ended by close() once the collectors
 * using it have closed. A worker that dies is started again on the next use; each source learns
 * that its state there is gone from `generation`.
 */
import * as path from 'node:path';
import { WorkerCall } from '../worker-call';
import type { NamespacesMessage, NamespacesSettings } from '../mount-namespaces/watcher';
import type { TraceAnswer, TraceRequest } from '../tracefs/owner';
import type { KernelEventsControl, KernelEventsPush } from './thread';

export class KernelEventsThread {
  private nextOwner = 1;
  private onNamespaces: (m: NamespacesMessage) => void = () => undefined;
  private onExit: (err: Error) => void = () => undefined;
  private readonly thread = new WorkerCall<{ to: 'trace'; owner: number; req: TraceRequest }, TraceAnswer>(
    path.join(__dirname, 'thread.js'),
    {
      onPush: (m) => {
        const push = m as KernelEventsPush;
        if (push?.to === 'namespaces') this.onNamespaces(push.message);
      },
      onExit: (err) => this.onExit(err),
    },
  );

  /** Workers started so far (see WorkerCall.generation). */
  get generation(): number {
    return this.thread.generation;
  }

  /** Why the last worker ended. */
  get lastFailure(): Error | undefined {
    return this.thread.lastFailure;
  }

  /** A number for a new trace owner in the thread. */
  newOwner(): number {
    return this.nextOwner++;
  }

  trace(owner: number, req: TraceRequest, timeoutMs: number, onTimeout?: () => Error): Promise<TraceAnswer> {
    return this.thread.call({ to: 'trace', owner, req }, timeoutMs, onTimeout);
  }

  /** Starts the watcher in the thread (starting the thread); what it posts goes to `listener`, the thread's end to `exit`. */
  watchNamespaces(
    settings: NamespacesSettings,
    listener: (m: NamespacesMessage) => void,
    exit: (err: Error) => void,
  ): void {
    this.onNamespaces = listener;
    this.onExit = exit;
    this.control({ to: 'namespaces', op: 'start', settings });
  }

  /** Stops the watcher (where the thread runs: without one there is none). */
  stopNamespaces(): void {
    this.thread.post({ to: 'namespaces', op: 'stop' } satisfies KernelEventsControl);
  }

  private control(m: KernelEventsControl): void {
    this.thread.start().postMessage(m);
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
