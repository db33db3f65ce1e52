/** The watched mount table as the main thread sees it: the table thread (thread.ts), asked once per sample. */
import * as path from 'node:path';
import { WorkerCall } from '../worker-call';
import type { TableAnswer, TableThreadData } from './thread';

export class MountTableSource {
  private readonly thread: WorkerCall<object, TableAnswer>;

  constructor(data: TableThreadData) {
    this.thread = new WorkerCall(path.join(__dirname, 'thread.js'), { workerData: data });
  }

  /** Whether the table changed since the last call, and a new reading where one was due. */
  read(): Promise<TableAnswer> {
    return this.thread.call({});
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
