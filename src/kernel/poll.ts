/** poll(2) on one descriptor, without waiting: the change test of /proc/PID/mountinfo. */
import { bind, errno, koffi } from './libc';
import { errnoName } from './errno';

export const POLLPRI = 0x2;
export const POLLERR = 0x8;

// Anonymous struct: koffi's type names are process-wide, and a module may be loaded more than once (jest).
const PollFd = koffi.struct({ fd: 'int', events: 'short', revents: 'short' });
const pollFn = bind((l) => l.func('poll', 'int', [koffi.inout(koffi.pointer(PollFd)), 'unsigned long', 'int']));

/** The revents of `fd` for `events`, with a zero timeout; throws naming the errno on failure. */
export function pollNow(fd: number, events: number): number {
  const p = { fd, events, revents: 0 };
  const n = pollFn(p, 1, 0) as number;
  if (n < 0) throw new Error(`poll(2) failed: ${errnoName(errno())}`);
  return n > 0 ? p.revents : 0;
}
