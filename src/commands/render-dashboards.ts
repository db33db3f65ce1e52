/** `mountstorm render-dashboards`: the Grafana dashboards with a user's selector and runbook URL. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_ALERTS_CONFIG, loadAlertsConfig } from '../alerts/config';
import { ConfigError } from '../errors';
import { flagValue, flagsHelp, parseArgs, type FlagSpec } from '../flags';
import { DASHBOARDS, renderDashboard } from '../grafana/render';

export const RENDER_DASHBOARDS_FLAGS: FlagSpec[] = [
  {
    name: 'config',
    kind: 'path',
    default: undefined,
    help: 'Alert bundle settings: the selector and runbook_url are used (see alerts/README.md).',
  },
  { name: 'output-dir', kind: 'path', default: '.', help: 'Directory the dashboards are written to.' },
];

export function renderDashboardsCommand(argv: string[]): number {
  const args = parseArgs(argv, RENDER_DASHBOARDS_FLAGS);
  if (args.help) {
    process.stdout.write(
      `usage: mountstorm render-dashboards [flags]\n\nWrites ${Object.keys(DASHBOARDS).join(' and ')} with your selector and runbook URL.\n\nflags:\n${flagsHelp(RENDER_DASHBOARDS_FLAGS)}\n`,
    );
    return 0;
  }
  if (args.positionals.length > 0) throw new ConfigError(`unexpected argument "${args.positionals[0]}"`);
  const file = flagValue<string | undefined>(args, RENDER_DASHBOARDS_FLAGS, 'config');
  const settings = file === undefined ? DEFAULT_ALERTS_CONFIG : loadAlertsConfig(file);
  const dir = flagValue<string>(args, RENDER_DASHBOARDS_FLAGS, 'output-dir');
  for (const name of Object.keys(DASHBOARDS)) fs.writeFileSync(path.join(dir, name), renderDashboard(name, settings));
  return 0;
}
