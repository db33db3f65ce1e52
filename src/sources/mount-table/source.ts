/** The watched mount table as the main thread sees it: its owner (owner.ts) on the mount-locks thread, asked once per sample. */
import type { MountLocksThread } from '../mount-locks/source';
import type { TableAnswer, TableSettings } from './owner';

export class MountTableSource {
  constructor(
    private readonly settings: TableSettings,
    private readonly thread: MountLocksThread,
  ) {}

  /** Whether the table changed since the last call, and a new reading where one was due. */
  read(): Promise<TableAnswer> {
    return this.thread.table(this.settings);
  }
}
