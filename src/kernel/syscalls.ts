/**
 * Numbers of the syscalls glibc 2.36 does not wrap (or wraps only partly), called through
 * syscall(2). x86-64 numbers; the same on every architecture that uses the generic table (arm64,
 * riscv) for these, which were all added after the tables were unified.
 */
export const SYS = {
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  mount_setattr: 442,
  statmount: 457,
  listmount: 458,
} as const;
