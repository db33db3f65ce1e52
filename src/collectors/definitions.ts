/** Names, defaults and one-line descriptions of the collectors; the flags are generated from this. */
export interface CollectorInfo {
  name: string;
  defaultEnabled: boolean;
  help: string;
}

export const COLLECTORS: readonly CollectorInfo[] = [
  { name: 'mounts', defaultEnabled: true, help: 'mount table size by fstype, churn, overlay layers, idmapped mounts, fs.mount-max.' },
  { name: 'probes', defaultEnabled: true, help: 'namespace_sem and mount_lock timing probes and the lock-wait estimates.' },
  { name: 'namespaces', defaultEnabled: true, help: 'number of distinct mount namespaces (/proc/*/ns/mnt).' },
  { name: 'cpu', defaultEnabled: true, help: 'CPU time per socket and NUMA node, CPU topology and SMT.' },
  { name: 'host', defaultEnabled: true, help: 'system vendor and model (the instance type on clouds).' },
  { name: 'tracefs', defaultEnabled: true, help: 'exact mount syscall counts, durations, errors and lock wait from tracefs (root or CAP_SYS_ADMIN; no data otherwise).' },
  { name: 'containers', defaultEnabled: true, help: "container starts seen in the runtime's task directories." },
];
