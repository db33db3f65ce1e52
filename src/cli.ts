#!/usr/bin/env node
/**
 * The command line: which command runs (src/commands/; serve by default), and its exit status. The
 * only place that exits, but for serve's 5 s safety kill when a stalled kernel keeps it from closing.
 * Each command is loaded when it runs, never at start: the serving path loads only the exporter,
 * and a command's own dependencies (the dashboards' SDK, the drill's progress bar) load with it.
 */
import { MountstormError, errorMessage } from './errors';

type Command = (argv: string[]) => number | Promise<number>;

/** The commands besides serve (src/commands/), each imported when it is run. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  storm: async () => (await import('./commands/storm')).stormCommand,
  doctor: async () => (await import('./commands/doctor')).doctorCommand,
  'render-alerts': async () => (await import('./commands/render-alerts')).renderAlertsCommand,
  'render-dashboards': async () => (await import('./commands/render-dashboards')).renderDashboardsCommand,
  'render-mixin': async () => (await import('./commands/render-mixin')).renderMixinCommand,
};

const USAGE = `usage: mountstorm [serve] [flags]

Prometheus exporter that sees Linux mount storms coming: mount table size and churn, overlay layer
depth, lock-wait probes for namespace_sem and mount_lock, per-socket CPU and topology.

commands:
  serve     run the exporter (default)
  storm     reproduce a container mount storm in a private namespace (see mountstorm storm --help)
  doctor    diagnose this host's mount-storm risk and what the exporter can see (mountstorm doctor --help)
  render-alerts      the Prometheus rules, with your selector, runbook URL and thresholds (--help)
  render-dashboards  the Grafana dashboards, with your selector and runbook URL (--help)
  render-mixin       the monitoring mixin (jsonnet), from the alert spec and the dashboards (--help)

flags (also MOUNTSTORM_<FLAG> environment variables, and keys of --config.file):
  --help      show this help
  --version   print the version
`;

async function main(argv: string[]): Promise<number> {
  const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'serve';
  const rest = argv[0] === command ? argv.slice(1) : argv;
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (load) return (await load())(rest);
  if (command !== 'serve') {
    process.stderr.write(`mountstorm: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  return (await import('./commands/serve')).serveCommand(rest, USAGE);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const known = err instanceof MountstormError;
    process.stderr.write(`mountstorm: ${known ? errorMessage(err) : ((err as Error)?.stack ?? String(err))}\n`);
    process.exit(known ? 2 : 1);
  },
);
