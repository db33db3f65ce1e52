/**
 * poll(2) on one descriptor: the change test of /proc/PID/mountinfo (no wait, on the calling thread),
 * and waiting for mount events (on libuv's pool: pollLater).
 */
import { bind, bindAsync, errno, koffi } from './libc';
import { errnoName } from './errno';

export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLERR = 0x8;

// Anonymous struct: koffi's type names are process-wide, and a module may be loaded more than once (jest).
const PollFd = koffi.struct({ fd: 'int', events: 'short', revents: 'short' });
const declare = (l: Parameters<Parameters<typeof bind>[0]>[0]) =>
  l.func('poll', 'int', [koffi.inout(koffi.pointer(PollFd)), 'unsigned long', 'int']);
const pollFn = bind(declare);
const pollAsync = bindAsync(declare);

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

/**
 * poll(2) on a thread of libuv's pool: the calling thread's event loop runs while it waits, and
 * `done` gets the revents (0 when it timed out). errno stays on the pool's thread, so a failure is
 * reported without its name.
 */
export function pollLater(
  fd: number,
  events: number,
  timeoutMs: number,
  done: (err: Error | undefined, revents: number) => void,
): void {
  const p = { fd, events, revents: 0 };
  pollAsync(p, 1, timeoutMs, (err: unknown, n: number) => {
    if (err) done(err instanceof Error ? err : new Error(`poll(2) on the pool failed: ${JSON.stringify(err)}`), 0);
    else if (n < 0) done(new Error('poll(2) failed'), 0);
    else done(undefined, n > 0 ? p.revents : 0);
  });
}
