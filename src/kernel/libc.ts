/**
 * libc, through koffi: the one place the exporter, the storm drill and the doctor reach the kernel
 * below what Node offers. The modules of src/kernel/ declare what they call with func(); nothing
 * outside src/kernel/ loads koffi. libc is loaded at the first call, not at import, so importing
 * the core (to render the alert rules or the dashboards, say) works on any platform.
 */
import koffi from 'koffi';

let lib: ReturnType<typeof koffi.load> | undefined;

function libc(): ReturnType<typeof koffi.load> {
  lib ??= koffi.load('libc.so.6');
  return lib;
}

type Binding = (...args: unknown[]) => unknown;
type Library = ReturnType<typeof koffi.load>;

/** A libc function bound at its first call by `make` (for prototypes koffi takes as types, not text). */
export function bind(make: (lib: Library) => unknown): Binding {
  let bound: Binding | undefined;
  return (...args) => {
    bound ??= make(libc()) as Binding;
    return bound(...args);
  };
}

/**
 * A libc function run on a thread of libuv's pool (koffi's async call): the last argument is the
 * callback `(err, result)`. For a call that may wait (poll), off the caller's event loop and
 * without a thread of its own. Bound at its first call, as bind() is.
 */
export function bindAsync(make: (lib: Library) => unknown): (...args: unknown[]) => void {
  let bound: { async: (...args: unknown[]) => void } | undefined;
  return (...args) => {
    bound ??= make(libc()) as { async: (...args: unknown[]) => void };
    bound.async(...args);
  };
}

/** A libc function by its C prototype, bound at its first call. */
export function func(prototype: string): Binding {
  return bind((l) => l.func(prototype));
}

/** syscall(2), variadic: pass each argument's type before it ('int', fd, 'str', path, …). */
export const syscall = func('long syscall(long number, ...)');

const closeFn = func('int close(int fd)');

export function close(fd: number): void {
  closeFn(fd);
}

/** errno as the last call through koffi left it. */
export function errno(): number {
  return koffi.errno();
}

export { koffi };
