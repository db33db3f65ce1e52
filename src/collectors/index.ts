import type { Collector, CollectorContext } from './collector';
import { ContainersCollector } from './containers';
import { CpuCollector } from './cpu';
import { HostCollector } from './host';
import { MountsCollector } from './mounts';
import { NamespacesCollector } from './namespaces';
import { ProbesCollector } from './probes';
import { TracefsCollector } from './tracefs';

const FACTORIES: Record<string, (ctx: CollectorContext) => Collector> = {
  mounts: (ctx) => new MountsCollector(ctx),
  probes: (ctx) => new ProbesCollector(ctx),
  namespaces: (ctx) => new NamespacesCollector(ctx),
  cpu: (ctx) => new CpuCollector(ctx),
  host: (ctx) => new HostCollector(ctx),
  containers: (ctx) => new ContainersCollector(ctx),
  tracefs: (ctx) => new TracefsCollector(ctx),
};

/** The enabled collectors, in the order of COLLECTORS. */
export function createCollectors(ctx: CollectorContext): Collector[] {
  return Object.entries(ctx.config.collectors)
    .filter(([, enabled]) => enabled)
    .map(([name]) => {
      const make = FACTORIES[name];
      if (!make) throw new Error(`no factory for collector ${name}`);
      return make(ctx);
    });
}
