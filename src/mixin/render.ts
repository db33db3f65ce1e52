/**
 * The monitoring mixin (deploy/mixin/), generated from the one alert spec and the dashboards, as
 * kubernetes-mixin is laid out: `_config` (selector, runbook URL pattern, windows, every threshold),
 * `prometheusAlerts` (the one rule group: recording rules, then the alerts that read them) and
 * `grafanaDashboards`. With its defaults, `jsonnet` renders exactly alerts/mountstorm.rules.yaml and
 * grafana/*.json; each setting a user overrides in `_config` lands where `render-alerts --config`
 * would put it.
 *
 * How: the rules and dashboards are rendered once with a sentinel config, whose every setting is a
 * value found nowhere else; each sentinel in the output becomes a `%(name)s` of jsonnet's
 * std.format over `$._configText`, `$._config` as text (and every literal `%` a `%%`).
 */
import { formatDuration } from '../flags';
import { DEFAULT_ALERTS_CONFIG, type AlertsConfig } from '../alerts/config';
import { ruleGroups } from '../alerts/promql';

import { THRESHOLDS, type Thresholds } from '../alerts/thresholds';
import { DASHBOARDS, renderDashboard } from '../grafana/render';
import { fastWindow } from '../alerts/signals';

const NUMBER_BASE = 7_310_000;
const DURATION_BASE = 8_420_000;
const RUNBOOK_HEAD = 'MIXINRUNBOOKHEAD';
const RUNBOOK_TAIL = 'MIXINRUNBOOKTAIL';

/** The sentinel config, and which config key each sentinel text stands for. */
function sentinels(): { cfg: AlertsConfig; tokens: Array<[string, string]> } {
  const tokens: Array<[string, string]> = [];
  const thresholds: Record<string, string | number> = {};
  Object.keys(THRESHOLDS).forEach((k, i) => {
    const v = (THRESHOLDS as Record<string, string | number>)[k];
    if (typeof v === 'number') {
      thresholds[k] = NUMBER_BASE + i;
      tokens.push([String(NUMBER_BASE + i), k]);
    } else {
      thresholds[k] = `${DURATION_BASE + i}s`;
      tokens.push([`${DURATION_BASE + i}s`, k]);
    }
  });
  const cfg: AlertsConfig = {
    selector: 'mixin_selector="sentinel"',
    scrapeIntervalMs: 1000,
    evaluationIntervalMs: (DURATION_BASE + 999) * 1000,
    runbookUrl: `${RUNBOOK_HEAD}{alert}${RUNBOOK_TAIL}`,
    thresholds: thresholds as unknown as Thresholds,
  };
  tokens.push(
    [cfg.selector, 'selector'],
    [formatDuration(cfg.evaluationIntervalMs), 'evaluationInterval'],
    [RUNBOOK_HEAD, 'runbookURLHead'],
    [RUNBOOK_TAIL, 'runbookURLTail'],
  );
  // The fast window is the fastWindow threshold itself at this scrape interval.
  if (fastWindow(cfg) !== thresholds.fastWindow)
    throw new Error('mixin: the sentinel fast window is not the threshold');
  // Longest first, so no token is replaced inside a longer one.
  tokens.sort((a, b) => b[0].length - a[0].length);
  return { cfg, tokens };
}

/** A string as jsonnet: plain, or std.format over $._config where it carries a setting. */
function jsonnetString(s: string, tokens: Array<[string, string]>): string {
  if (!tokens.some(([t]) => s.includes(t))) return JSON.stringify(s);
  let out = s.split('%').join('%%');
  for (const [t, key] of tokens) out = out.split(t).join(`%(${key})s`);
  return `std.format(${JSON.stringify(out)}, $._configText)`;
}

function jsonnet(v: unknown, tokens: Array<[string, string]>, indent: string): string {
  const next = indent + '  ';
  if (typeof v === 'string') return jsonnetString(v, tokens);
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && tokens.some(([t]) => t === String(v)))
      throw new Error(`mixin: a sentinel number ${v} outside a string`);
    return JSON.stringify(v);
  }
  if (Array.isArray(v))
    return v.length === 0 ? '[]' : `[\n${v.map((x) => next + jsonnet(x, tokens, next)).join(',\n')},\n${indent}]`;
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  return entries.length === 0
    ? '{}'
    : `{\n${entries.map(([k, x]) => `${next}${JSON.stringify(k)}: ${jsonnet(x, tokens, next)}`).join(',\n')},\n${indent}}`;
}

const HEADER = '// Generated from src/alerts and src/grafana by `npm run render-mixin`; do not edit by hand.\n';

function configLibsonnet(d: AlertsConfig): string {
  const o = configOverrides(d);
  const lines = Object.keys(d.thresholds).map((k) => `    ${k}: ${JSON.stringify(o[k])},`);
  return `${HEADER}// Every setting of the rules and dashboards; override in your own mixin:
//   (import 'mountstorm/deploy/mixin/mixin.libsonnet') + { _config+:: { selector: 'job="node-mountstorm"' } }
{
  _config+:: {
    // PromQL label matchers of the exporter's series (render-alerts' selector).
    selector: ${JSON.stringify(o.selector)},
    // The rule group's evaluation interval.
    evaluationInterval: ${JSON.stringify(o.evaluationInterval)},
    // Where each alert's runbook is: {alert} becomes its name.
    runbookURLPattern: ${JSON.stringify(o.runbookURLPattern)},
    runbookURLHead:: std.substr(self.runbookURLPattern, 0, std.findSubstr('{alert}', self.runbookURLPattern)[0]),
    runbookURLTail:: std.substr(self.runbookURLPattern, std.findSubstr('{alert}', self.runbookURLPattern)[0] + 7, std.length(self.runbookURLPattern)),
    // The thresholds and durations of src/alerts/thresholds.ts, by the same names (alerts/README.md
    // says what each means). fastWindow is the fast signals' window as rendered: at least four
    // scrape intervals (render-alerts --config computes it from scrape_interval; here set it).
${lines.join('\n')}
  },
  // The settings as the rules print them: numbers as render-alerts prints them (no float noise).
  _configText:: {
    [k]: local v = $._config[k];
      if !std.isNumber(v) then v else if std.floor(v) == v then std.format('%d', v) else std.format('%.12g', v)
    for k in std.objectFieldsAll($._config)
  },
}
`;
}

export function renderMixin(): Record<string, string> {
  const { cfg, tokens } = sentinels();
  const groups = ruleGroups(cfg);
  const dashboards = Object.fromEntries(
    Object.keys(DASHBOARDS).map((name) => [name, JSON.parse(renderDashboard(name, cfg)) as unknown]),
  );
  return {
    'config.libsonnet': configLibsonnet(DEFAULT_ALERTS_CONFIG),
    'alerts.libsonnet': `${HEADER}{\n  prometheusAlerts+:: {\n    groups+: ${jsonnet(groups, tokens, '    ')},\n  },\n}\n`,
    'dashboards.libsonnet': `${HEADER}{\n  grafanaDashboards+:: ${jsonnet(dashboards, tokens, '  ')},\n}\n`,
    'mixin.libsonnet': `${HEADER}// The mountstorm monitoring mixin: _config, prometheusAlerts, grafanaDashboards.\n(import 'config.libsonnet') + (import 'alerts.libsonnet') + (import 'dashboards.libsonnet')\n`,
  };
}

/** The settings of a config by their `_config` names (config.libsonnet's defaults; overrides in a user's mixin). */
export function configOverrides(c: AlertsConfig): Record<string, string | number> {
  return {
    selector: c.selector,
    evaluationInterval: formatDuration(c.evaluationIntervalMs),
    runbookURLPattern: c.runbookUrl,
    ...c.thresholds,
    fastWindow: fastWindow(c),
  };
}
