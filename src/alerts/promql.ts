/**
 * The alert spec as Prometheus rules: one recording rule per signal an alert reads, then the
 * alerts, all in one group (rules in a group run in order, so each alert reads the recording rules
 * of the same evaluation; separate groups run concurrently and could read the previous tick's).
 */
import { formatDuration } from '../flags';

import { runbookUrl, type AlertsConfig } from './config';
import {
  ALERTS,
  descriptionSignals,
  signalsOf,
  thresholdValue,
  type AlertSpec,
  type Condition,
  type DescriptionPart,
} from './spec';
import { NOTIFY_METRICS } from '../metric-names';
import { SIGNALS, selector, signal, type Signal, TOP_IMAGE } from './signals';

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  keep_firing_for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}

/** A threshold as PromQL reads it (no exponent form PromQL would misread, no trailing noise). */
function number(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(12)));
}

/** A condition as PromQL: a comparison keeps the signal's value, so an alert's $value is its first signal's. */
export function conditionPromql(c: Condition, cfg: AlertsConfig, depth = 0): string {
  const pad = '  '.repeat(depth);
  if ('not' in c) throw new Error('alert spec: a "not" goes only at the end of an "all"');
  if ('all' in c || 'any' in c) {
    const parts = 'all' in c ? c.all : c.any;
    const firstNot = parts.findIndex((p) => 'not' in p);
    if (
      firstNot === 0 ||
      (firstNot > 0 && parts.slice(firstNot).some((p) => !('not' in p))) ||
      ('any' in c && firstNot >= 0)
    )
      throw new Error('alert spec: a "not" goes only at the end of an "all", after what must hold');
    const term = (p: Condition): string => {
      const q = 'not' in p ? p.not : p;
      const text = conditionPromql(q, cfg, depth + 1);
      return 'signal' in q ? `${pad}  ${text}` : `${pad}  (\n${text}\n${pad}  )`;
    };
    // and / unless share a precedence and bind left to right, so trailing unless terms subtract from the whole.
    return parts
      .map((p, i) =>
        i === 0
          ? term(p)
          : `${pad}  ${'all' in c ? ('not' in p ? 'unless on (instance)' : 'and on (instance)') : 'or on (instance)'}\n${term(p)}`,
      )
      .join('\n');
  }
  const rec = signal(c.signal).record(cfg);
  return 'present' in c ? rec : `${rec} > ${number(thresholdValue(cfg, c.above))}`;
}

/** The Go template that prints a signal's value for the alert's instance, or "n/a" without one. */
function valueTemplate(s: Signal, cfg: AlertsConfig): string {
  const fmt = s.format === 'integer' ? 'printf "%.0f"' : s.format;
  return `{{ with printf "${s.record(cfg)}{instance=%q}" $labels.instance | query }}{{ . | first | value | ${fmt} }}{{ else }}n/a{{ end }}`;
}

/**
 * A condition for the alert's instance, as a template's `if` reads it: its PromQL over the recording
 * rules, kept to the instance (a non-empty result is true, as a firing series is).
 */
function instanceHolds(c: Condition, cfg: AlertsConfig): string {
  const expr = conditionPromql(c, cfg).replace(/\s+/g, ' ').trim();
  return `(printf \`(${expr}) and on (instance) label_replace(vector(1), "instance", %q, "", "")\` $labels.instance | query)`;
}

export function descriptionTemplate(parts: readonly DescriptionPart[], cfg: AlertsConfig): string {
  return parts
    .map((p) => {
      if (typeof p === 'string') return p.split('{instance}').join('{{ $labels.instance }}');
      if ('topImage' in p) {
        const q = TOP_IMAGE.promql(cfg);
        const args = Array.from({ length: q.split('%q').length - 1 }, () => '$labels.instance').join(' ');
        return `{{ with printf \`${q}\` ${args} | query }}{{ . | first | label "image" }}{{ else }}n/a{{ end }}`;
      }
      if ('cases' in p) {
        const branches = p.cases.map(
          (c, i) =>
            `{{ ${i === 0 ? 'if' : 'else if'} ${instanceHolds(c.when, cfg)} }}${descriptionTemplate(c.text, cfg)}`,
        );
        return `${branches.join('')}{{ else }}${descriptionTemplate(p.otherwise, cfg)}{{ end }}`;
      }
      return valueTemplate(signal(p.signal), cfg);
    })
    .join('');
}

/**
 * While the node's own notifier reaches an Alertmanager, the rule of a node-evaluated alert stands
 * aside: the node pages first and resolves when its condition clears, and a Prometheus rule still
 * firing over its longer window would re-open the incident just resolved.
 */
function nodePushGuard(cfg: AlertsConfig): string {
  return `unless on (instance)\n  max by (instance) (${NOTIFY_METRICS.alertmanagerUp}${selector(cfg)}) == 1`;
}

export function alertRule(a: AlertSpec, cfg: AlertsConfig): Rule {
  let expr: string;
  if (a.promql) expr = a.promql(cfg);
  else if (a.condition) {
    const leaf = 'signal' in a.condition;
    const c = conditionPromql(a.condition, cfg);
    if (a.node) expr = `(\n${leaf ? `  ${c}` : c}\n)\n${nodePushGuard(cfg)}`;
    else expr = leaf ? c : c.replace(/^ {2}/gm, '');
  } else throw new Error(`alert spec: ${a.name} has neither a condition nor PromQL`);
  return {
    alert: a.name,
    expr,
    for: cfg.thresholds[a.for],
    ...(a.keepFiringFor ? { keep_firing_for: cfg.thresholds[a.keepFiringFor] } : {}),
    labels: { severity: a.severity },
    annotations: {
      summary: a.summary,
      description: a.promqlDescription ?? descriptionTemplate(a.description, cfg),
      runbook_url: runbookUrl(cfg, a.name),
    },
  };
}

/** The signals the alerts read (conditions and descriptions), in SIGNALS' order. */
export function usedSignals(): Signal[] {
  const used = new Set<string>();
  for (const a of ALERTS) {
    if (a.condition) for (const id of signalsOf(a.condition)) used.add(id);
    for (const id of descriptionSignals(a.description)) used.add(id);
  }
  // A signal's rule may read other signals' rules (a ratio its parts').
  const add = (id: string): void => {
    used.add(id);
    for (const r of signal(id).reads ?? []) add(r);
  };
  for (const id of [...used]) add(id);
  return Object.values(SIGNALS).filter((s) => used.has(s.id));
}

export function ruleGroups(cfg: AlertsConfig): RuleGroup[] {
  return [
    {
      name: 'mountstorm',
      interval: formatDuration(cfg.evaluationIntervalMs),
      rules: [
        ...usedSignals().map((s) => ({ record: s.record(cfg), expr: s.promql(cfg) })),
        ...ALERTS.map((a) => alertRule(a, cfg)),
      ],
    },
  ];
}
