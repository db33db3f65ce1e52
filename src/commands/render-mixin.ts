/** `mountstorm render-mixin`: the monitoring mixin (jsonnet), generated from the alert spec and the dashboards. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors';
import { flagValue, flagsHelp, parseArgs, type FlagSpec } from '../flags';
import { renderMixin } from '../mixin/render';

export const RENDER_MIXIN_FLAGS: FlagSpec[] = [
  {
    name: 'output-dir',
    kind: 'path',
    default: 'deploy/mixin',
    help: "Directory the mixin's .libsonnet files are written to.",
  },
];

export function renderMixinCommand(argv: string[]): number {
  const args = parseArgs(argv, RENDER_MIXIN_FLAGS);
  if (args.help) {
    process.stdout.write(
      `usage: mountstorm render-mixin [flags]\n\nWrites the monitoring mixin (config, alerts, dashboards and mixin.libsonnet); override its _config in jsonnet.\n\nflags:\n${flagsHelp(RENDER_MIXIN_FLAGS)}\n`,
    );
    return 0;
  }
  if (args.positionals.length > 0) throw new ConfigError(`unexpected argument "${args.positionals[0]}"`);
  const dir = flagValue<string>(args, RENDER_MIXIN_FLAGS, 'output-dir');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(renderMixin())) fs.writeFileSync(path.join(dir, name), text);
  return 0;
}
