/** `mountstorm doctor`: flags, text and JSON output, exit code by risk. */
import { FLAGS } from '../config';
import { flagValue, flagsHelp, parseArgs, type FlagSpec } from '../flags';
import { ConfigError } from '../errors';
import { HostPaths } from '../fs/paths';
import { DEPTH_BUCKETS, diagnose, type Diagnosis } from '../doctor/diagnose';
import { runtimeDirs } from '../oci/runtimes';

const SHARED = [
  'path.procfs',
  'path.sysfs',
  'path.rootfs',
  'mount.pid',
  'collector.containers.task-dir',
  'collector.containers.storage-dir',
  'collector.tracefs.path',
  'collector.tracefs.mode',
];
export const DOCTOR_FLAGS: FlagSpec[] = [
  ...FLAGS.filter((f) => SHARED.includes(f.name)),
  { name: 'json', kind: 'bool', default: false, help: 'Print the diagnosis as JSON.' },
];

/** Exit status when the diagnosis finds high risk (0 otherwise; 2 is a usage error). */
export const EXIT_HIGH_RISK = 3;

export const DOCTOR_USAGE = `usage: mountstorm doctor [flags]

A one-shot diagnosis of this host for mount-storm risk: CPU topology (sockets, NUMA, SMT), the mount
table against fs.mount-max, overlay layer depth, idmapped mounts, which kernel features exist
(tracefs events, lock contention tracepoints, listmount/statmount, fanotify mount events), and which
collectors will work with the current privileges, and why. Exits ${EXIT_HIGH_RISK} when the risk is high.

flags:
${flagsHelp(DOCTOR_FLAGS)}
`;

const MARK = { yes: '✓', no: '✗', unknown: '?' } as const;

export function renderText(d: Diagnosis): string {
  const out: string[] = [];
  const h = d.host;
  out.push(`mountstorm doctor — risk: ${d.risk.toUpperCase()}`, '');
  out.push('Host');
  out.push(`  ${h.systemVendor} ${h.systemModel}, kernel ${h.kernel}`);
  out.push(
    `  ${h.cpuModel}: ${h.cpus} CPUs, ${h.sockets} socket(s), ${h.numaNodes} NUMA node(s), SMT ${h.smt ? 'on' : 'off'}`,
  );
  out.push('', `Mount table (PID ${d.mountTable.pid})`);
  if (d.mountTable.error) out.push(`  unreadable: ${d.mountTable.error}`);
  else {
    const util =
      d.mountTable.utilisation === undefined
        ? ''
        : ` (${(d.mountTable.utilisation * 100).toFixed(1)} % of fs.mount-max ${d.mountTable.mountMax})`;
    out.push(
      `  ${d.mountTable.mounts} mounts${util}; ${d.mountTable.idmapped} idmapped; ${d.mountTable.overlays} overlays, deepest ${d.deepestOverlay} layers`,
    );
    if (d.mountTable.overlays > 0)
      out.push(`  overlay depth: ${DEPTH_BUCKETS.map(([k]) => `${k}: ${d.layerDepth[k]}`).join(', ')}`);
  }
  out.push('', 'Container runtimes found');
  if (d.runtimes.length === 0)
    out.push(
      "  none: no runtime directory can be listed; starts are counted as new mount namespaces (the kernel's start signal)",
    );
  for (const r of d.runtimes) {
    const by = Object.entries(r.containers).map(([rt, n]) => `${rt} ${n}`);
    out.push(
      `  ${r.layout === 'containerd' ? "containerd's task directory" : 'containers/storage (Podman, CRI-O)'} ${r.dir}: ${by.length ? `${by.join(', ')} containers` : 'no container now'}; reads each config.json (image, pod, user namespace, masked paths)${r.layout === 'containers-storage' ? " and containers.json (Podman's image names)" : ''}`,
    );
  }
  const c = d.containers;
  out.push(
    '',
    `Containers running (${c.running} in the runtimes' directories${c.unreadable ? `, ${c.unreadable} bundles unreadable` : ''})`,
  );
  if (c.images.length === 0) out.push('  none');
  const name = (i: (typeof c.images)[number]) =>
    `${i.image}${i.layers !== undefined ? ` (${i.layers} layers)` : ''}${i.userNamespace ? `, ${i.userNamespace} in user namespaces` : ''}`;
  for (const i of c.images.slice(0, 10)) out.push(`  ${String(i.containers).padStart(5)}  ${name(i)}`);
  // What each brings now: its recent starts × its layers where found, else its recent starts (as the storm page ranks them).
  const work = (i: (typeof c.images)[number]) => (i.layers !== undefined ? i.recentStarts * i.layers : i.recentStarts);
  const starting = c.images
    .filter((i) => i.recentStarts > 0)
    .sort((a, b) => work(b) - work(a) || (a.image < b.image ? -1 : 1))
    .slice(0, 10);
  if (starting.length > 0) {
    out.push('', 'Images driving mount churn now (containers started in the last 5 minutes, still running)');
    for (const i of starting)
      out.push(
        `  ${String(i.recentStarts).padStart(5)}  ${name(i)}${i.layers !== undefined ? `: ${i.recentStarts * i.layers} layers mounted` : ''}`,
      );
  }
  const deepest = c.images
    .filter((i) => i.layers !== undefined)
    .sort((a, b) => (b.layers ?? 0) - (a.layers ?? 0))
    .slice(0, 5);
  if (deepest.length > 0) {
    out.push('', 'Deepest images running (lower layers of their rootfs overlay)');
    for (const i of deepest) out.push(`  ${String(i.layers).padStart(5)}  ${i.image} (${i.containers} containers)`);
  }
  const sc = d.startCost;
  out.push('', 'What a container start costs here');
  out.push(
    `  per-CPU masks (kubelet and containerd since 2025-2026): ${sc.cpus} mounts per start, one per CPU of this host`,
  );
  out.push(
    `  masked paths of the containers running: ${sc.maskedPaths} at most (${sc.perCpuMaskedPaths} of them per CPU), one mount each at every start`,
  );
  if (sc.deepestLayers !== undefined)
    out.push(`  deepest image running: ${sc.deepestLayers} layers (a runtime that idmaps every layer mounts each)`);
  if (sc.tableCopied !== undefined)
    out.push(`  every new mount namespace copies the ${sc.tableCopied} mounts of the table, under namespace_sem`);
  out.push('', 'Kernel features');
  for (const [name, f] of Object.entries(d.features)) out.push(`  ${MARK[f.available]} ${name.padEnd(28)} ${f.detail}`);
  out.push('', 'Collectors with the current privileges');
  for (const [name, c] of Object.entries(d.collectors))
    out.push(`  ${c.works ? '✓' : '✗'} ${name.padEnd(11)} ${c.why}`);
  out.push('', 'Storm page (MountStormImminent) with this configuration and privileges');
  if (d.page.capable) out.push('  ✓ can fire: mount signature, container starts and lock wait are all seen');
  for (const b of d.page.blockers) out.push(`  ✗ cannot fire: ${b.why}`);
  out.push('', 'Findings');
  if (d.findings.length === 0) out.push('  none');
  for (const f of d.findings) out.push(`  [${f.risk}] ${f.what}`, `      → ${f.advice}`);
  return out.join('\n') + '\n';
}

export async function doctorCommand(
  argv: string[],
  write: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const args = parseArgs(argv, DOCTOR_FLAGS);
  if (args.help) {
    write(DOCTOR_USAGE);
    return 0;
  }
  if (args.positionals.length > 0) throw new ConfigError(`doctor: unexpected argument "${args.positionals[0]}"`);
  const get = <T>(name: string): T => flagValue(args, DOCTOR_FLAGS, name) as T;
  const paths = new HostPaths(get('path.procfs'), get('path.sysfs'), get('path.rootfs'));
  // Syscall probes describe the running kernel: only when looking at the live host.
  const live = paths.procfs === '/proc' && paths.sysfs === '/sys';
  const d = await diagnose({
    paths,
    mountPid: get('mount.pid'),
    runtimeDirs: runtimeDirs(
      get<string[]>('collector.containers.task-dir'),
      get<string[]>('collector.containers.storage-dir'),
    ),
    tracefsPath: get('collector.tracefs.path'),
    tracefsMode: get('collector.tracefs.mode'),
    probeKernel: live,
  });
  write(get<boolean>('json') ? JSON.stringify(d, null, 2) + '\n' : renderText(d));
  return d.risk === 'high' ? EXIT_HIGH_RISK : 0;
}
