/**
 * A container's OCI bundle as a runtime leaves it: `config.json`, read once, bounded, never followed
 * through a symlink, and reduced to who the container is. containerd's CRI writes the pod and image
 * into annotations (`io.kubernetes.cri.*`), CRI-O into its own (`io.kubernetes.cri-o.*`,
 * `io.kubernetes.pod.*`); Podman names itself (`io.container.manager: libpod`) and keeps the image
 * in containers/storage (src/oci/runtimes.ts); other clients (ctr, nerdctl) leave what they leave,
 * and the container id names the container then.
 */
import * as fs from 'node:fs';
import { constants } from 'node:fs';
import * as path from 'node:path';

/** A config.json larger than this is not a runtime's (containerd's are a few KiB; 1 MiB leaves room for annotations). */
export const MAX_CONFIG_BYTES = 1 << 20;

/** Why a bundle could not be read: a fixed set, so it can label a counter. */
export const BUNDLE_ERRORS = ['gone', 'not_a_file', 'too_large', 'not_json', 'not_an_object', 'unreadable'] as const;
export type BundleErrorReason = (typeof BUNDLE_ERRORS)[number];

export class BundleError extends Error {
  constructor(
    readonly reason: BundleErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export interface BundleInfo {
  /** The container id: the bundle directory's name (containers/storage: the one above `userdata`). */
  id: string;
  /** The image, as the CRI names it (`io.kubernetes.cri.image-name`), else an OCI image annotation; undefined for neither. */
  image: string | undefined;
  podNamespace: string | undefined;
  podName: string | undefined;
  containerName: string | undefined;
  /** `container`, `sandbox` (the pod's pause container) or undefined (not a CRI container). */
  containerType: string | undefined;
  /** The manager that wrote it, where it says (`io.container.manager`: `cri-o`, `libpod` for Podman). */
  manager: string | undefined;
  /** It runs in a user namespace of its own: uid mappings, or a user namespace in linux.namespaces. */
  userNamespace: boolean;
  /** The rootfs path, absolute, as the runtime names it (root.path is relative to the bundle where not absolute). */
  rootfs: string | undefined;
  /**
   * linux.maskedPaths: paths the OCI runtime hides, one mount each in the container's namespace
   * (runc: a read-only tmpfs on a directory, /dev/null bound on a file; a path missing in the
   * container is skipped).
   */
  maskedPaths: number;
  /**
   * Of those, the ones per CPU: a path with a `cpu<N>` component, as the thermal_throttle masks
   * kubelet and containerd add for every CPU of the host (kubernetes PR 131018, containerd PR 14090).
   * Their number grows with the host.
   */
  perCpuMaskedPaths: number;
}

/** A `cpu<N>` path component: /sys/devices/system/cpu/cpu17/thermal_throttle. */
const PER_CPU = /(^|\/)cpu\d+(\/|$)/;

const CRI = 'io.kubernetes.cri.';
const CRIO = 'io.kubernetes.cri-o.';
/** Each fact's annotations, the first present wins: containerd's CRI, CRI-O's, then clients'. */
const IMAGE_ANNOTATIONS = [
  `${CRI}image-name`,
  `${CRIO}ImageName`,
  'io.containerd.image.name',
  'org.opencontainers.image.ref.name',
  'nerdctl/image',
];
const POD_NAMESPACE = [`${CRI}sandbox-namespace`, 'io.kubernetes.pod.namespace'];
const POD_NAME = [`${CRI}sandbox-name`, 'io.kubernetes.pod.name'];
const CONTAINER_NAME = [`${CRI}container-name`, 'io.kubernetes.container.name'];
const CONTAINER_TYPE = [`${CRI}container-type`, `${CRIO}ContainerType`];

/** Longest value kept from a bundle (an image reference is at most a few hundred bytes): a label or a page line, not a megabyte. */
export const MAX_VALUE = 512;
const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v.length > 0 ? (v.length > MAX_VALUE ? `${v.slice(0, MAX_VALUE - 1)}…` : v) : undefined;

/**
 * What a config.json's text says about its container; BundleError where it is not a JSON object.
 * `runtimeDir` is the bundle's directory as the runtime names it (without --path.rootfs), against
 * which a relative root.path resolves.
 */
export function parseBundleConfig(text: string, bundleDir: string, runtimeDir = bundleDir): BundleInfo {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new BundleError('not_json', `config.json is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new BundleError('not_an_object', 'config.json is not a JSON object');
  const c = v as Record<string, unknown>;
  const raw = c.annotations;
  const annotations: Record<string, unknown> =
    typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const linux = typeof c.linux === 'object' && c.linux !== null ? (c.linux as Record<string, unknown>) : {};
  const uidMappings = Array.isArray(linux.uidMappings) ? linux.uidMappings : [];
  const namespaces = Array.isArray(linux.namespaces) ? linux.namespaces : [];
  const userNs = namespaces.some(
    (n) => typeof n === 'object' && n !== null && (n as Record<string, unknown>).type === 'user',
  );
  const masked = Array.isArray(linux.maskedPaths)
    ? linux.maskedPaths.filter((p): p is string => typeof p === 'string' && p.length > 0)
    : [];
  const root =
    typeof c.root === 'object' && c.root !== null ? str((c.root as Record<string, unknown>).path) : undefined;
  const first = (keys: readonly string[]) => keys.map((k) => str(annotations[k])).find((x) => x !== undefined);
  return {
    id: path.basename(bundleDir) === 'userdata' ? path.basename(path.dirname(bundleDir)) : path.basename(bundleDir),
    image: first(IMAGE_ANNOTATIONS),
    podNamespace: first(POD_NAMESPACE),
    podName: first(POD_NAME),
    containerName: first(CONTAINER_NAME),
    containerType: first(CONTAINER_TYPE),
    manager: str(annotations['io.container.manager']),
    userNamespace: uidMappings.length > 0 || userNs,
    rootfs: root === undefined ? undefined : path.resolve(runtimeDir, root),
    maskedPaths: masked.length,
    perCpuMaskedPaths: masked.filter((p) => PER_CPU.test(p)).length,
  };
}

/**
 * Reads `<bundleDir>/config.json` once: not through a symlink (O_NOFOLLOW), never blocking on a
 * FIFO (O_NONBLOCK), a regular file, at most MAX_CONFIG_BYTES (read to one byte past it, so a file
 * growing under the read is caught too). Synchronous on purpose: a runtime's bundle is a few KiB on
 * tmpfs, and four thread-pool trips cost this VM ~300 µs of CPU per bundle against ~25 µs for the
 * same calls made directly (bench/bundles.ts), at a storm's 50 starts a second; the size check
 * bounds the read.
 */
export function readBundle(bundleDir: string, runtimeDir = bundleDir): BundleInfo {
  const file = path.join(bundleDir, 'config.json');
  let fd: number;
  try {
    fd = fs.openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new BundleError('gone', 'the bundle was gone before its config.json was read');
    if (code === 'ELOOP') throw new BundleError('not_a_file', 'config.json is a symlink');
    throw new BundleError('unreadable', `config.json: ${code ?? String(err)}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new BundleError('not_a_file', 'config.json is not a regular file');
    if (st.size > MAX_CONFIG_BYTES)
      throw new BundleError('too_large', `config.json is ${st.size} bytes (at most ${MAX_CONFIG_BYTES})`);
    let buf = Buffer.allocUnsafe(Math.min(st.size + 1, MAX_CONFIG_BYTES + 1));
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > MAX_CONFIG_BYTES)
          throw new BundleError('too_large', `config.json grew past ${MAX_CONFIG_BYTES} bytes while read`);
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, MAX_CONFIG_BYTES + 1));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const bytesRead = fs.readSync(fd, buf, n, buf.length - n, n);
      n += bytesRead;
      // A regular file reads short only at its end: no further read.
      if (bytesRead === 0 || n < buf.length) break;
    }
    return parseBundleConfig(buf.toString('utf8', 0, n), bundleDir, runtimeDir);
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError('unreadable', `config.json: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  } finally {
    fs.closeSync(fd);
  }
}
