/**
 * Where tracefs is: the configured path, else <sysfs>/kernel/tracing, else
 * <sysfs>/kernel/debug/tracing. Where none is mounted and <sysfs> is a real sysfs, tracefs is
 * mounted at <sysfs>/kernel/tracing (where systemd would have mounted it), as perf and bpftrace do.
 * Synchronous: called from the kernel-events thread, never the event loop.
 */
import * as fs from 'node:fs';
import { errorMessage, UnsupportedError } from '../../errors';
import type { HostPaths } from '../../fs/paths';
import { fsType, SYSFS_MAGIC, TRACEFS_MAGIC } from '../../kernel/magic';
import { mount, umount2 } from '../../kernel/mount';

/** Whether `dir` is a tracefs mount (by its filesystem magic, not its path). */
export function isTracefs(dir: string): boolean {
  return fsType(dir) === TRACEFS_MAGIC;
}

/** Where tracefs is looked for, in order: the configured path alone, else <sysfs>/kernel/tracing, then <sysfs>/kernel/debug/tracing. */
export function tracefsCandidates(paths: HostPaths, configured: string | undefined): string[] {
  return configured !== undefined ? [configured] : [paths.sys('kernel/tracing'), paths.sys('kernel/debug/tracing')];
}

export interface TracefsMount {
  dir: string;
  /** We mounted it (no tracefs was mounted), so we unmount it on exit. */
  mountedByUs: boolean;
}

export function locateTracefs(paths: HostPaths, configured: string | undefined): TracefsMount {
  const found = tracefsCandidates(paths, configured).find(isTracefs);
  if (found !== undefined) return { dir: found, mountedByUs: false };
  if (configured !== undefined)
    throw new UnsupportedError(`--collector.tracefs.path ${configured} is not a tracefs mount`);
  const primary = paths.sys('kernel/tracing');
  if (fsType(paths.sys('kernel')) !== SYSFS_MAGIC || !fs.existsSync(primary)) {
    throw new UnsupportedError(
      `no tracefs at ${primary} (${paths.sysfs} is not the kernel's sysfs, so nothing is mounted there)`,
    );
  }
  try {
    mount('tracefs', primary, 'tracefs', 0);
  } catch (err) {
    throw new UnsupportedError(
      `no tracefs at ${primary} and mounting one failed: ${errorMessage(err)} (needs CAP_SYS_ADMIN)`,
      { cause: err },
    );
  }
  return { dir: primary, mountedByUs: true };
}

/** Unmounts a tracefs this process mounted; another tracer may use it now, in which case it stays. */
export function releaseTracefs(t: TracefsMount): void {
  if (!t.mountedByUs) return;
  try {
    umount2(t.dir);
  } catch {
    // in use by another tracer: leave it mounted
  }
}
