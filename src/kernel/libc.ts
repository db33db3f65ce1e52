/**
 * libc, loaded once through koffi: the one place the exporter, the storm drill and the doctor reach
 * the kernel below what Node offers. The modules of src/kernel/ declare what they call on `libc`;
 * nothing outside src/kernel/ loads koffi.
 */
import koffi from 'koffi';

export const libc = koffi.load('libc.so.6');

/** syscall(2), variadic: pass each argument's type before it ('int', fd, 'str', path, …). */
export const syscall = libc.func('long syscall(long number, ...)');

const closeFn = libc.func('int close(int fd)');

export function close(fd: number): void {
  closeFn(fd);
}

/** errno as the last call through koffi left it. */
export function errno(): number {
  return koffi.errno();
}

export { koffi };
