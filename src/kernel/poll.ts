/** poll(2) on one descriptor: the change test of /proc/PID/mountinfo (no wait), and waiting for mount events. */
import { bind, errno, koffi } from './libc';
import { errnoName } from './errno';

export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLERR = 0x8;

// Anonymous struct: koffi's type names are process-wide, and a module may be loaded more than once (jest).
const PollFd = koffi.struct({ fd: 'int', events: 'short', revents: 'short' });
const pollFn = bind((l) => l.func('poll', 'int', [koffi.inout(koffi.pointer(PollFd)), 'unsigned long', 'int']));

/** The revents of `fd` for `events`, waiting up to `timeoutMs` (0: not at all); throws naming the errno on failure. */
export function pollNow(fd: number, events: number, timeoutMs = 0): number {
  const p = { fd, events, revents: 0 };
  const n = pollFn(p, 1, timeoutMs) as number;
  if (n < 0) {
    const code = errnoName(errno());
    if (code === 'EINTR') return 0;
    throw new Error(`poll(2) failed: ${code}`);
  }
  return n > 0 ? p.revents : 0;
}
