/** The alerting bundle as code: rules rendered from src/alerts, mixin conventions, the timing budget, PagerDuty severities. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { renderRules } from '../../src/alerts/render';
import { ruleGroups } from '../../src/alerts/rules';
import { RUNBOOK_BASE } from '../../src/alerts/thresholds';
import { AM_CONFIG } from '../support/alertmanager';
import { REPO } from '../support/env';

const RULES = path.join(REPO, 'alerts/mountstorm.rules.yaml');
const alerts = ruleGroups().flatMap((g) => g.rules).filter((r) => r.alert);

describe('rules', () => {
  test('the committed rule file is rendered from src/alerts (npm run render-alerts)', () => {
    expect(fs.readFileSync(RULES, 'utf8')).toBe(renderRules());
  });

  test('mixin conventions: MountStorm/MountTable names, for, severity, summary, description, runbook', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(9);
    for (const a of alerts) {
      expect(a.alert).toMatch(/^Mount(Storm|Table)[A-Z][A-Za-z]+$/);
      expect(a.for).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning', 'info']).toContain(a.labels?.severity);
      expect(a.annotations?.summary).not.toMatch(/\{\{/);
      expect(a.annotations?.description).toMatch(/\{\{ \$labels\.instance \}\}/);
      expect(a.annotations?.runbook_url).toBe(`${RUNBOOK_BASE}/${a.alert}.md`);
      expect(fs.existsSync(path.join(REPO, 'alerts/runbooks', `${a.alert}.md`))).toBe(true);
    }
    for (const r of ruleGroups().flatMap((g) => g.rules).filter((x) => x.record)) expect(r.record).toMatch(/^[a-z]+:[a-z_]+:[a-z0-9_]+$/);
  });

  test('critical alerts meet the timing budget: scrape 5 s + eval 5 s + for + group_wait ≤ 20 s', () => {
    const seconds = (d: string) => Number(d.slice(0, -1)) * { s: 1, m: 60, h: 3600 }[d.slice(-1) as 's' | 'm' | 'h'];
    const am = yaml.load(fs.readFileSync(AM_CONFIG, 'utf8')) as { route: { routes: { receiver: string; group_wait?: string }[] } };
    const groupWait = seconds(am.route.routes.find((r) => r.receiver === 'page')?.group_wait ?? '30s');
    expect(groupWait).toBeLessThanOrEqual(5);
    for (const a of alerts.filter((x) => x.labels?.severity === 'critical')) expect(5 + 5 + seconds(a.for as string) + groupWait).toBeLessThanOrEqual(20);
  });
});

describe('Alertmanager config', () => {
  test('PagerDuty severities are only the four the Events API accepts', () => {
    const am = yaml.load(fs.readFileSync(AM_CONFIG, 'utf8')) as { receivers: { name: string; pagerduty_configs?: { severity: string; routing_key_file?: string; routing_key?: string }[] }[] };
    for (const r of am.receivers) for (const p of r.pagerduty_configs ?? []) {
      expect(['critical', 'error', 'warning', 'info']).toContain(p.severity);
      expect(p.routing_key).toBeUndefined();
      expect(p.routing_key_file).toMatch(/^\/etc\/alertmanager\/secrets\//);
    }
  });
});
