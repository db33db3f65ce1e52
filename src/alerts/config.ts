/**
 * The alerting bundle's settings, mixin style: the job selector, the scrape interval the rules'
 * windows must fit, the runbook URL pattern, and any threshold. One YAML file (every key optional,
 * defaults as shipped) drives `mountstorm render-alerts`, `mountstorm render-dashboards` and the
 * exporter's own evaluator (--alerts.config.file), so a threshold changed once changes everywhere.
 *
 *   selector: 'job="mountstorm"'                 # PromQL label matchers of the exporter's series
 *   scrape_interval: 30s                          # windows become max(fastWindow, 4 × this)
 *   evaluation_interval: 5s                       # the rule group's interval
 *   runbook_url: 'https://wiki.example.com/runbooks/{alert}'
 *   thresholds: { stormSyscallsPerStart: 200, stormFor: 5s }
 */
import { parseYamlMapping, readSettingsFile } from '../yaml-mapping';
import { parseDuration } from '../flags';
import { THRESHOLDS, type Thresholds } from './thresholds';

export interface AlertsConfig {
  /** PromQL label matchers selecting the exporter's series (and its `up`), without braces. */
  selector: string;
  scrapeIntervalMs: number;
  evaluationIntervalMs: number;
  /** Where each alert's runbook is: `{alert}` becomes its name. */
  runbookUrl: string;
  thresholds: Readonly<Thresholds>;
}

export const DEFAULT_RUNBOOK_URL = 'https://github.com/mountstorm/mountstorm/blob/main/alerts/runbooks/{alert}.md';

export const DEFAULT_ALERTS_CONFIG: Readonly<AlertsConfig> = Object.freeze({
  selector: 'job="mountstorm"',
  scrapeIntervalMs: 5000,
  evaluationIntervalMs: 5000,
  runbookUrl: DEFAULT_RUNBOOK_URL,
  thresholds: Object.freeze({ ...THRESHOLDS }),
});

export function runbookUrl(cfg: AlertsConfig, alert: string): string {
  return cfg.runbookUrl.split('{alert}').join(alert);
}

/** Parses and validates the YAML text of an alerts config: a ConfigError naming the key otherwise. */
export function parseAlertsConfig(text: string, file: string): AlertsConfig {
  const { doc: d, fail } = parseYamlMapping(text, file);
  if (d === undefined) return DEFAULT_ALERTS_CONFIG;
  const out: AlertsConfig = { ...DEFAULT_ALERTS_CONFIG, thresholds: { ...THRESHOLDS } };
  const duration = (key: string, v: unknown): number => {
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined || ms <= 0)
      throw fail(`${key} must be a duration such as 5s or 1m (got ${JSON.stringify(v)})`);
    return ms;
  };
  for (const [key, v] of Object.entries(d)) {
    switch (key) {
      case 'selector':
        if (
          typeof v !== 'string' ||
          !/^\s*[a-zA-Z_]\w*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*(,\s*[a-zA-Z_]\w*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*)*$/.test(
            v,
          )
        ) {
          throw fail(
            `selector must be PromQL label matchers without braces, such as job="mountstorm" (got ${JSON.stringify(v)})`,
          );
        }
        out.selector = v.trim();
        break;
      case 'scrape_interval':
        out.scrapeIntervalMs = duration(key, v);
        break;
      case 'evaluation_interval':
        out.evaluationIntervalMs = duration(key, v);
        break;
      case 'runbook_url':
        if (typeof v !== 'string' || !/^https?:\/\/\S+$/.test(v) || !v.includes('{alert}'))
          throw fail(`runbook_url must be an http(s) URL containing {alert} (got ${JSON.stringify(v)})`);
        out.runbookUrl = v;
        break;
      case 'thresholds': {
        if (v === null || typeof v !== 'object' || Array.isArray(v))
          throw fail('thresholds must be a mapping of threshold names to values');
        const t = out.thresholds as Record<string, string | number>;
        for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
          const def = (THRESHOLDS as Record<string, string | number>)[name];
          if (def === undefined)
            throw fail(`thresholds: unknown threshold "${name}" (known: ${Object.keys(THRESHOLDS).join(', ')})`);
          if (typeof def === 'number') {
            if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
              throw fail(`thresholds.${name} must be a non-negative number (got ${JSON.stringify(value)})`);
            t[name] = value;
          } else {
            duration(`thresholds.${name}`, value);
            t[name] = String(value);
          }
        }
        break;
      }
      default:
        throw fail(
          `unknown key "${key}" (known: selector, scrape_interval, evaluation_interval, runbook_url, thresholds)`,
        );
    }
  }
  return Object.freeze({ ...out, thresholds: Object.freeze(out.thresholds) });
}

export function loadAlertsConfig(file: string): AlertsConfig {
  return parseAlertsConfig(readSettingsFile(file, 'alerts config'), file);
}
