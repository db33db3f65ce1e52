/**
 * libc, loaded once through koffi, and the functions more than one module calls: the storm's mount
 * syscalls, listmount/statmount, poll(2) on mountinfo and doctor's probes each declare the rest of
 * what they need on `libc`.
 */
import koffi from 'koffi';

export const libc = koffi.load('libc.so.6');

/** syscall(2), variadic: pass each argument's type before it ('int', fd, 'str', path, …). */
export const syscall = libc.func('long syscall(long number, ...)');

export const close = libc.func('int close(int fd)');

/** errno as the last call through koffi left it. */
export function errno(): number {
  return koffi.errno();
}
