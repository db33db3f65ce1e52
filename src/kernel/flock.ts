/** flock(2), non-blocking: exporters starting together take turns on their tracefs instances. */
import { errno, func } from './libc';
import { EWOULDBLOCK } from './errno';

const flockFn = func('int flock(int fd, int operation)');
const LOCK_EX = 2;
const LOCK_NB = 4;

/** Tries an exclusive lock: 'locked', 'busy' (another holder), or 'failed' (locking does not work here). */
export function tryLockExclusive(fd: number): 'locked' | 'busy' | 'failed' {
  if ((flockFn(fd, LOCK_EX | LOCK_NB) as number) === 0) return 'locked';
  return errno() === EWOULDBLOCK ? 'busy' : 'failed';
}
