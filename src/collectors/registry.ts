/** Every collector, in the order they run and are listed; --collector.<name> flags come from here. */
import type { CollectorDefinition } from './collector';
import { containersCollector } from './containers';
import { cpuCollector } from './cpu';
import { hostCollector } from './host';
import { mountsCollector } from './mounts';
import { namespacesCollector } from './namespaces';
import { probesCollector } from './probes';
import { tracefsCollector } from './tracefs';

export const COLLECTORS: readonly CollectorDefinition[] = [
  mountsCollector,
  probesCollector,
  namespacesCollector,
  cpuCollector,
  hostCollector,
  tracefsCollector,
  containersCollector,
];
