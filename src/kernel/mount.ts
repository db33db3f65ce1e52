/**
 * The mount syscalls, called directly through koffi (libc's wrappers and raw syscall(2) for the new
 * mount API, which glibc 2.36 wraps only partly). The storm drill and tests use these; the exporter
 * itself mounts nothing but tracefs, and only where no tracefs is mounted (src/sources/tracefs/locate.ts).
 */
import { close as closeFn, errno, func, koffi, syscall as syscallFn } from './libc';
import { errnoName } from './errno';
import { SYS } from './syscalls';

const mountFn = func(
  'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
);
const umount2Fn = func('int umount2(const char *target, int flags)');
const strerrorFn = func('const char *strerror(int errnum)');

export const MS_RDONLY = 0x1;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 1 << 18;
export const MNT_DETACH = 2;
export const AT_FDCWD = -100;
export const AT_EMPTY_PATH = 0x1000;
export const OPEN_TREE_CLONE = 1;
export const OPEN_TREE_CLOEXEC = 0o2000000;
export const MOVE_MOUNT_F_EMPTY_PATH = 4;
/** mount_attr flag (and statmount's mnt_attr bit) of an idmapped mount. */
export const MOUNT_ATTR_IDMAP = 0x00100000;

// Anonymous: koffi's type names are process-wide, and a module may be loaded more than once (jest).
const MountAttr = koffi.struct({
  attr_set: 'uint64_t',
  attr_clr: 'uint64_t',
  propagation: 'uint64_t',
  userns_fd: 'uint64_t',
});
const MOUNT_ATTR_SIZE = koffi.sizeof(MountAttr);

export class SyscallError extends Error {
  constructor(
    readonly syscall: string,
    readonly errno: number,
    detail: string,
  ) {
    super(`${syscall}(${detail}): ${strerrorFn(errno) as string} (errno ${errno})`);
    this.name = 'SyscallError';
  }

  /** errno as its symbolic name (EPERM, ENOSPC, …). */
  get code(): string {
    return errnoName(this.errno);
  }
}

function check(rc: number | bigint, syscall: string, detail: string): number {
  const n = Number(rc);
  if (n < 0) throw new SyscallError(syscall, errno(), detail);
  return n;
}

export function mount(
  source: string,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  check(mountFn(source, target, fstype, flags, data) as number, 'mount', target);
}

export function umount2(target: string, flags = 0): void {
  check(umount2Fn(target, flags) as number, 'umount2', target);
}

export function close(fd: number): void {
  closeFn(fd);
}

/** open_tree(AT_FDCWD, path, OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC): a detached copy of the mount at path. */
export function openTreeClone(path: string): number {
  return check(
    syscallFn(SYS.open_tree, 'int', AT_FDCWD, 'str', path, 'uint', OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC) as number,
    'open_tree',
    path,
  );
}

/** mount_setattr(fd, "", AT_EMPTY_PATH, {attr_set: MOUNT_ATTR_IDMAP, userns_fd}): idmap a detached mount. */
export function mountSetattrIdmap(fd: number, usernsFd: number): void {
  const attr = { attr_set: MOUNT_ATTR_IDMAP, attr_clr: 0, propagation: 0, userns_fd: usernsFd };
  check(
    syscallFn(
      SYS.mount_setattr,
      'int',
      fd,
      'str',
      '',
      'uint',
      AT_EMPTY_PATH,
      koffi.pointer(MountAttr),
      attr,
      'size_t',
      MOUNT_ATTR_SIZE,
    ) as number,
    'mount_setattr',
    `fd ${fd}`,
  );
}

/** move_mount(fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH): attach a detached mount at target. */
export function moveMount(fd: number, target: string): void {
  check(
    syscallFn(
      SYS.move_mount,
      'int',
      fd,
      'str',
      '',
      'int',
      AT_FDCWD,
      'str',
      target,
      'uint',
      MOVE_MOUNT_F_EMPTY_PATH,
    ) as number,
    'move_mount',
    target,
  );
}
