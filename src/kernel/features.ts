/**
 * Kernel feature probes that need a syscall: the answer comes from the running kernel, not from its
 * version string (`mountstorm doctor` reports them; tests choose their expectations by them).
 */
import * as fs from 'node:fs';
import { errnoName } from './errno';
import { close as closeFn, errno as lastErrno, func, syscall as syscallFn } from './libc';
import { mountNamespaceInfo, walkMountNamespaces } from './nsfs';
import { SYS } from './syscalls';

const fanotifyInit = func('int fanotify_init(unsigned int flags, unsigned int event_f_flags)');

const LSMT_ROOT = 0xffffffffffffffffn;
const FAN_CLASS_NOTIF = 0;
const FAN_REPORT_MNT = 0x00004000;

type Probe = { available: 'yes' | 'no' | 'unknown'; detail: string };

export function listmountProbe(): Probe {
  const req = Buffer.alloc(24); // struct mnt_id_req (MNT_ID_REQ_SIZE_VER0)
  req.writeUInt32LE(24, 0);
  req.writeBigUInt64LE(LSMT_ROOT, 8);
  const ids = Buffer.alloc(8 * 16);
  const n = Number(syscallFn(SYS.listmount, 'void *', req, 'void *', ids, 'size_t', 16, 'uint', 0));
  if (n >= 0)
    return { available: 'yes', detail: 'listmount(2) and statmount(2): 64-bit mount ids that are never reused' };
  const errno = lastErrno();
  if (errnoName(errno) === 'ENOSYS')
    return { available: 'no', detail: 'listmount(2) is ENOSYS (kernel < 6.8): the exporter reads mountinfo text' };
  return { available: 'unknown', detail: `listmount(2) failed with ${errnoName(errno)}` };
}

export function fanotifyMountProbe(): Probe {
  const fd = fanotifyInit(FAN_CLASS_NOTIF | FAN_REPORT_MNT, 0) as number;
  if (fd >= 0) {
    closeFn(fd);
    return { available: 'yes', detail: 'fanotify_init(FAN_REPORT_MNT) works (mount attach/detach events, 6.15+)' };
  }
  const e = errnoName(lastErrno());
  if (e === 'EINVAL') return { available: 'no', detail: 'fanotify_init(FAN_REPORT_MNT) is EINVAL (kernel < 6.15)' };
  return { available: 'unknown', detail: `fanotify_init(FAN_REPORT_MNT) failed with ${e} (needs CAP_SYS_ADMIN)` };
}

/** NS_MNT_GET_INFO on this process's namespace, and the NS_MNT_GET_NEXT walk (Linux 6.12+; the walk needs CAP_SYS_ADMIN in the initial PID namespace). */
export function nsfsProbe(): { info: Probe; walk: Probe } {
  const fd = fs.openSync('/proc/thread-self/ns/mnt', 'r');
  try {
    let info: Probe;
    try {
      const i = mountNamespaceInfo(fd);
      info = {
        available: 'yes',
        detail: `NS_MNT_GET_INFO: the table's size without reading it (${i.mounts} mounts here)`,
      };
    } catch (err) {
      const e = (err as { code?: string }).code;
      return {
        info:
          e === 'ENOTTY'
            ? {
                available: 'no',
                detail: 'NS_MNT_GET_INFO is ENOTTY (kernel < 6.12): the size comes from table readings',
              }
            : { available: 'unknown', detail: (err as Error).message },
        walk: { available: e === 'ENOTTY' ? 'no' : 'unknown', detail: 'needs NS_MNT_GET_INFO' },
      };
    }
    let n = 0;
    try {
      walkMountNamespaces(fd, () => n++);
      return {
        info,
        walk: { available: 'yes', detail: `NS_MNT_GET_NEXT walk: ${n} mount namespaces, pinned ones included` },
      };
    } catch (err) {
      const e = (err as { code?: string }).code;
      return {
        info,
        walk:
          e === 'EPERM'
            ? {
                available: 'unknown',
                detail: 'NS_MNT_GET_NEXT is EPERM: the walk needs CAP_SYS_ADMIN in the initial PID namespace (hostPID)',
              }
            : { available: 'unknown', detail: (err as Error).message },
      };
    }
  } finally {
    fs.closeSync(fd);
  }
}
