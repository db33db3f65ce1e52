/**
 * The overlay a container runs on: its bundle's rootfs, looked up in the watched mount namespace
 * (through /proc/PID/root, so the runtime's mounts are found whatever namespace the exporter runs
 * in) by statx's unique mount id, and that one mount's super options read with statmount: the
 * lower layers of its overlay. Two syscalls per container, no table read (Linux 6.8+; on older
 * kernels layers are not known here, and the doctor reads them from the table).
 */
import * as path from 'node:path';
import { mountOf, StatxError } from '../kernel/statx';
import { MountApi, MountApiError, STATMOUNT_FS_TYPE, STATMOUNT_MNT_OPTS } from '../kernel/mount-api';
import { namespaceIdFor } from '../kernel/nsfs';
import { overlayLowerLayerCount } from '../procfs/mountinfo/overlay';

/**
 * What the rootfs lookup found: an overlay's lower layers, another filesystem, a directory with
 * nothing mounted on it yet, no such directory (containerd makes it with the bundle, before
 * config.json: a bundle without one is not going to get an overlay there), or no way to tell.
 */
export type RootfsLayers =
  { layers: number } | { notOverlay: string } | { notMounted: true } | { noRootfs: true } | { unavailable: string };

export class RootfsLookup {
  private api: MountApi | undefined;
  private unavailable: string | undefined;

  /** `mountinfoPath`: the watched namespace's /proc/PID/mountinfo; its /proc/PID/root is where rootfs paths resolve. */
  constructor(private readonly mountinfoPath: string) {}

  /** Where `rootfs` (as the runtime names it) is in the watched namespace's tree. */
  private resolve(rootfs: string): string {
    return path.join(path.dirname(this.mountinfoPath), 'root', rootfs);
  }

  private mountApi(): MountApi | undefined {
    if (this.api || this.unavailable) return this.api;
    try {
      this.api = new MountApi(namespaceIdFor(this.mountinfoPath));
    } catch (err) {
      this.unavailable = `the watched mount namespace's id: ${(err as Error).message}`;
    }
    return this.api;
  }

  /** The overlay under `rootfs` (absolute, in the runtime's terms). */
  layers(rootfs: string): RootfsLayers {
    const api = this.mountApi();
    if (!api) return { unavailable: this.unavailable as string };
    let at;
    try {
      at = mountOf(this.resolve(rootfs));
    } catch (err) {
      if (err instanceof StatxError && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return { noRootfs: true };
      if (err instanceof StatxError && err.code === 'ENOSYS')
        return { unavailable: 'statx gives no unique mount id (Linux 6.8+)' };
      return { unavailable: (err as Error).message };
    }
    if (!at.mountRoot) return { notMounted: true };
    let st;
    try {
      st = api.stat(at.mountId, STATMOUNT_FS_TYPE | STATMOUNT_MNT_OPTS);
    } catch (err) {
      return { unavailable: err instanceof MountApiError ? err.message : String(err) };
    }
    if (st === undefined) return { notMounted: true }; // unmounted between the two calls
    if (st.fsType !== 'overlay') return { notOverlay: st.fsType };
    return { layers: overlayLowerLayerCount(st.opts ?? '') };
  }
}
