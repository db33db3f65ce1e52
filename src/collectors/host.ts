/**
 * System vendor and model. On clouds the DMI product name is the instance type (r5.metal, …), which
 * is what the hardware comparison of lock wait needs. DMI is read through the sysfs seam; where a
 * platform has no DMI (device-tree ARM boards, some VMs) systeminformation knows the other places.
 */
import { promises as fs } from 'node:fs';
import { defineCollector, type Collector, type CollectorContext } from './collector';
import { HOST_METRICS } from '../metric-names';

const M = HOST_METRICS;

async function dmi(file: string): Promise<string | undefined> {
  try {
    const v = (await fs.readFile(file, 'utf8')).trim();
    return v === '' ? undefined : v;
  } catch {
    return undefined;
  }
}

export interface HostSnapshot {
  vendor: string;
  model: string;
}

export class HostCollector implements Collector<HostSnapshot> {
  readonly name = 'host';
  private readonly info;
  private known: HostSnapshot | undefined;

  constructor(private readonly ctx: CollectorContext) {
    this.info = ctx.exposition.gauge(
      M.hostInfo,
      'System vendor and model (on clouds, the instance type); value is 1.',
      ['system_vendor', 'system_model'],
    );
  }

  async collect(): Promise<HostSnapshot> {
    if (!this.known) {
      let vendor = await dmi(this.ctx.paths.sys('class/dmi/id/sys_vendor'));
      let model = await dmi(this.ctx.paths.sys('class/dmi/id/product_name'));
      // systeminformation reads the host's own /sys and /proc: only ask it about the real host.
      if ((vendor === undefined || model === undefined) && this.ctx.paths.sysfs === '/sys') {
        // Loaded only here (#32): 2.5 MiB of RSS that a host with DMI, and the DaemonSet, never need.
        const si = await import('systeminformation');
        const sys = await si.system();
        vendor ??= sys.manufacturer || undefined;
        model ??= sys.model || undefined;
      }
      this.known = { vendor: vendor ?? 'unknown', model: model ?? 'unknown' };
    }
    return this.known;
  }

  apply(s: HostSnapshot): void {
    this.info.reset();
    this.info.set({ system_vendor: s.vendor, system_model: s.model }, 1);
  }
}

export const hostCollector = defineCollector({
  name: 'host',
  defaultEnabled: true,
  help: 'system vendor and model (the instance type on clouds).',
  flags: [],
  options: () => ({}),
  create: (ctx) => new HostCollector(ctx),
});
