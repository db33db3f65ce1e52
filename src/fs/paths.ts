import * as path from 'node:path';

/**
 * The one seam between collectors and the host's pseudo-filesystems. Every read of /proc, /sys, the
 * host root and tracefs goes through here, so the DaemonSet can read the host's /proc at /host/proc
 * and tests can point the whole exporter at fixture trees.
 */
export class HostPaths {
  constructor(
    readonly procfs = '/proc',
    readonly sysfs = '/sys',
    readonly rootfs = '/',
  ) {}

  proc(...parts: string[]): string {
    return path.join(this.procfs, ...parts);
  }

  sys(...parts: string[]): string {
    return path.join(this.sysfs, ...parts);
  }

  /** A path on the host's root filesystem, e.g. the container runtime's state directories. */
  root(...parts: string[]): string {
    return path.join(this.rootfs, ...parts);
  }
}
