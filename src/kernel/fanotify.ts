/**
 * fanotify mount notifications (Linux 6.15+): one event per mount attached to or detached from a
 * marked mount namespace, with the 64-bit mount id and the pid of the task that caused it. No cost
 * to any other syscall on the host, unlike a syscall tracepoint.
 */
import { errnoName } from './errno';
import { errno, func } from './libc';
import { POLLIN, pollLater } from './poll';
import { refused } from './refuse';

const FAN_CLOEXEC = 0x1;
const FAN_NONBLOCK = 0x2;
const FAN_CLASS_NOTIF = 0x0;
export const FAN_REPORT_MNT = 0x00004000;
const FAN_MARK_ADD = 0x1;
const FAN_MARK_MNTNS = 0x110;
export const FAN_Q_OVERFLOW = 0x00004000;
export const FAN_MNT_ATTACH = 0x01000000;
export const FAN_MNT_DETACH = 0x02000000;
export const FAN_EVENT_INFO_TYPE_MNT = 7;

const fanotifyInit = func('int fanotify_init(unsigned int flags, unsigned int event_f_flags)');
const fanotifyMark = func('int fanotify_mark(int fd, unsigned int flags, uint64_t mask, int dirfd, const char *path)');
const readFn = func('long read(int fd, _Out_ uint8_t *buf, size_t count)');

/** A fanotify call that failed, with its errno name as `code` (EINVAL from init: the kernel predates mount events). */
export class FanotifyError extends Error {
  constructor(
    readonly call: string,
    readonly code: string,
  ) {
    super(
      `${call} failed: ${code}${call === 'fanotify_init(FAN_REPORT_MNT)' && code === 'EINVAL' ? ' (mount events need Linux 6.15+)' : code === 'EPERM' ? ' (needs CAP_SYS_ADMIN)' : ''}`,
    );
    this.name = 'FanotifyError';
  }
}

/** A non-blocking fanotify group for mount events; MOUNTSTORM_KERNEL_REFUSE=fanotify-mount makes it fail as a 6.14 kernel does. */
export function openMountEvents(): number {
  if (refused('fanotify-mount')) throw new FanotifyError('fanotify_init(FAN_REPORT_MNT)', 'EINVAL');
  const fd = fanotifyInit(FAN_CLASS_NOTIF | FAN_REPORT_MNT | FAN_CLOEXEC | FAN_NONBLOCK, 0) as number;
  if (fd < 0) throw new FanotifyError('fanotify_init(FAN_REPORT_MNT)', errnoName(errno()));
  return fd;
}

/** Marks the mount namespace `nsFd` (an nsfs descriptor): its attaches and detaches come to `fanFd`. */
export function markMountNamespace(fanFd: number, nsFd: number): void {
  if ((fanotifyMark(fanFd, FAN_MARK_ADD | FAN_MARK_MNTNS, FAN_MNT_ATTACH | FAN_MNT_DETACH, nsFd, null) as number) < 0) {
    throw new FanotifyError('fanotify_mark(FAN_MARK_MNTNS)', errnoName(errno()));
  }
}

/** Reads what is queued into `buf`: the bytes read, 0 when nothing is (EAGAIN). */
export function readEvents(fd: number, buf: Buffer): number {
  const n = Number(readFn(fd, buf, buf.length));
  if (n >= 0) return n;
  const code = errnoName(errno());
  if (code === 'EAGAIN' || code === 'EINTR') return 0;
  throw new FanotifyError('read', code);
}

/**
 * Waits up to `timeoutMs` for events on `fd` on a thread of libuv's pool, the caller's event loop
 * free meanwhile; `done` gets true when some are queued.
 */
export function waitEventsLater(
  fd: number,
  timeoutMs: number,
  done: (err: Error | undefined, ready: boolean) => void,
): void {
  pollLater(fd, POLLIN, timeoutMs, (err, revents) => done(err, (revents & POLLIN) !== 0));
}
