/** Distinct mount namespaces, from the /proc/PID/ns/mnt links; processes may exit mid-scan. */
import { promises as fs } from 'node:fs';
import { errnoCode } from '../errors';
import { defineCollector, type Collector, type CollectorContext } from './collector';

/** The metrics this file owns, by what they measure: alerts and dashboards name them through this. */
export const NAMESPACES_METRICS = {
  mountNamespaces: 'mountstorm_mount_namespaces',
  mountNamespaceUnreadableProcesses: 'mountstorm_mount_namespace_unreadable_processes',
} as const;
const M = NAMESPACES_METRICS;

const GONE = new Set(['ENOENT', 'ESRCH', 'EACCES', 'EPERM', 'ENOTDIR']);
const BATCH = 64;

export interface NamespacesSnapshot {
  namespaces: number;
  /** Processes whose link could not be read (without CAP_SYS_PTRACE the count is a lower bound). */
  unreadable: number;
}

export class NamespacesCollector implements Collector<NamespacesSnapshot> {
  readonly name = 'namespaces';
  private readonly namespaces;
  private readonly unreadable;

  constructor(private readonly ctx: CollectorContext) {
    this.namespaces = ctx.exposition.gauge(M.mountNamespaces, 'Distinct mount namespaces among the processes visible in procfs.');
    this.unreadable = ctx.exposition.gauge(M.mountNamespaceUnreadableProcesses, 'Processes whose ns/mnt link could not be read in the last scan (without CAP_SYS_PTRACE the count is a lower bound).');
  }

  async collect(): Promise<NamespacesSnapshot> {
    const pids = (await fs.readdir(this.ctx.paths.procfs)).filter((n) => /^\d+$/.test(n));
    const seen = new Set<string>();
    let unreadable = 0;
    for (let i = 0; i < pids.length; i += BATCH) {
      const links = await Promise.all(
        pids.slice(i, i + BATCH).map((pid) =>
          fs.readlink(this.ctx.paths.proc(pid, 'ns/mnt')).catch((err: unknown) => {
            if (!GONE.has(errnoCode(err) ?? '')) throw err;
            // Exited since readdir (ENOENT/ESRCH) is not unreadable; a permission error is.
            if (errnoCode(err) === 'EACCES' || errnoCode(err) === 'EPERM') unreadable++;
            return undefined;
          }),
        ),
      );
      for (const l of links) if (l !== undefined) seen.add(l);
    }
    return { namespaces: seen.size, unreadable };
  }

  apply(s: NamespacesSnapshot): void {
    this.namespaces.set(s.namespaces);
    this.unreadable.set(s.unreadable);
  }
}

export const namespacesCollector = defineCollector({
  name: 'namespaces',
  defaultEnabled: true,
  help: 'number of distinct mount namespaces (/proc/*/ns/mnt).',
  flags: [],
  options: () => ({}),
  create: (ctx) => new NamespacesCollector(ctx),
});
