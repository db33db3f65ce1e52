import * as fs from 'node:fs';
import * as path from 'node:path';
import { TRACED_SYSCALLS } from './aggregate';

export interface AvailableEvents {
  /** The traced syscalls this kernel has tracepoints for. */
  syscalls: string[];
  lockContention: boolean;
}

/** Which of the events the tracefs collector needs exist under a tracefs mount. */
export function availableEvents(tracefsDir: string): AvailableEvents {
  const has = (e: string) => fs.existsSync(path.join(tracefsDir, 'events', e));
  return {
    syscalls: TRACED_SYSCALLS.map((s) => s.name).filter((n) => has(`syscalls/sys_enter_${n}`)),
    lockContention: has('lock/contention_begin') && has('lock/contention_end'),
  };
}
