/** `mountstorm render-alerts`: the Prometheus rules from the one alert spec, with a user's settings. */
import * as fs from 'node:fs';
import { DEFAULT_ALERTS_CONFIG, loadAlertsConfig } from '../alerts/config';
import { renderPrometheusRule, renderRules } from '../alerts/render';
import { ConfigError } from '../errors';
import { flagValue, flagsHelp, oneOf, parseArgs, type FlagSpec } from '../flags';

export const RENDER_ALERTS_FLAGS: FlagSpec[] = [
  {
    name: 'config',
    kind: 'path',
    default: undefined,
    help: 'Alert bundle settings (selector, scrape_interval, evaluation_interval, runbook_url, thresholds); see alerts/README.md.',
  },
  {
    name: 'format',
    kind: 'string',
    default: 'rules',
    help: 'rules (a Prometheus rule file) or prometheusrule (a Prometheus Operator PrometheusRule).',
    check: oneOf(['rules', 'prometheusrule']),
  },
  { name: 'output', kind: 'path', default: undefined, help: 'Write here instead of standard output.' },
];

export const RENDER_ALERTS_USAGE = `usage: mountstorm render-alerts [flags]

Renders the recording and alerting rules from the one alert spec, with your selector, runbook URL,
scrape interval and thresholds. The same --config file given to the exporter as --alerts.config.file
gives its own evaluator the same thresholds.

flags:
${flagsHelp(RENDER_ALERTS_FLAGS)}
`;

export function renderAlertsCommand(argv: string[]): number {
  const args = parseArgs(argv, RENDER_ALERTS_FLAGS);
  if (args.help) {
    process.stdout.write(RENDER_ALERTS_USAGE);
    return 0;
  }
  if (args.positionals.length > 0) throw new ConfigError(`unexpected argument "${args.positionals[0]}"`);
  const file = flagValue<string | undefined>(args, RENDER_ALERTS_FLAGS, 'config');
  const cfg = file === undefined ? DEFAULT_ALERTS_CONFIG : loadAlertsConfig(file);
  const text =
    flagValue(args, RENDER_ALERTS_FLAGS, 'format') === 'prometheusrule' ? renderPrometheusRule(cfg) : renderRules(cfg);
  const out = flagValue<string | undefined>(args, RENDER_ALERTS_FLAGS, 'output');
  if (out === undefined) process.stdout.write(text);
  else fs.writeFileSync(out, text);
  return 0;
}
