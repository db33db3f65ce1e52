/** The alerting bundle: rules checked and unit-tested by promtool, routing by amtool and a real Alertmanager. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { renderRules } from '../src/alerts/render';
import { ruleGroups } from '../src/alerts/rules';
import { RUNBOOK_BASE } from '../src/alerts/thresholds';
import { REPO, hasCommand, requireInCi, testIf } from './support/env';
import { AM_CONFIG, startAlertmanager } from './support/alertmanager';
import { startPagerDuty } from './support/pagerduty';

const RULES = path.join(REPO, 'alerts/mountstorm.rules.yaml');
const alerts = ruleGroups().flatMap((g) => g.rules).filter((r) => r.alert);

requireInCi(hasCommand('promtool') && hasCommand('amtool') && hasCommand('prometheus-alertmanager'), 'promtool, amtool, prometheus-alertmanager');
const withPromtool = testIf(hasCommand('promtool'), 'promtool not installed (scripts/setup-test.sh installs it)');
const withAmtool = testIf(hasCommand('amtool'), 'amtool not installed (scripts/setup-test.sh installs it)');
const withAlertmanager = testIf(hasCommand('prometheus-alertmanager'), 'prometheus-alertmanager not installed');

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

  withPromtool('promtool check rules', () => {
    expect(execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' })).toMatch(/SUCCESS: \d+ rules found/);
  });

  withPromtool('promtool test rules: each alert fires when it should and stays silent on normal churn and a quiet large table', () => {
    expect(execFileSync('promtool', ['test', 'rules', path.join(REPO, 'alerts/tests/mountstorm.test.yaml')], { encoding: 'utf8' })).toMatch(/SUCCESS/);
  });
});

describe('Alertmanager routing', () => {
  withAmtool('amtool check-config', () => {
    expect(execFileSync('amtool', ['check-config', AM_CONFIG], { encoding: 'utf8' })).toMatch(/SUCCESS/);
  });

  withAmtool.each([
    ['severity=critical', 'page'],
    ['severity=warning', 'tickets'],
    ['severity=info', 'info'],
    ['alertname=Other', 'tickets'],
  ])('amtool config routes test %s → %s', (labels, receiver) => {
    execFileSync('amtool', ['config', 'routes', 'test', `--config.file=${AM_CONFIG}`, `--verify.receivers=${receiver}`, 'alertname=MountStormImminent', 'instance=n1', labels], { stdio: 'pipe' });
  });

  test('PagerDuty severities are only the four the Events API accepts', () => {
    const am = yaml.load(fs.readFileSync(AM_CONFIG, 'utf8')) as { receivers: { name: string; pagerduty_configs?: { severity: string; routing_key_file?: string; routing_key?: string }[] }[] };
    for (const r of am.receivers) for (const p of r.pagerduty_configs ?? []) {
      expect(['critical', 'error', 'warning', 'info']).toContain(p.severity);
      expect(p.routing_key).toBeUndefined();
      expect(p.routing_key_file).toMatch(/^\/etc\/alertmanager\/secrets\//);
    }
  });
});

describe('a real Alertmanager with the shipped config and a PagerDuty receiver', () => {
  withAlertmanager('critical pages PagerDuty within seconds; a warning on the same node is inhibited', async () => {
    const dir = fs.mkdtempSync('/tmp/mountstorm-am-');
    const pd = await startPagerDuty();
    const am = await startAlertmanager(pd, dir);
    try {
      const alert = (alertname: string, severity: string) => ({
        labels: { alertname, severity, instance: 'node1:9866', job: 'mountstorm' },
        annotations: { summary: `${alertname} summary`, description: `${alertname} on node1`, runbook_url: `${RUNBOOK_BASE}/${alertname}.md` },
      });
      const sent = Date.now();
      const r = await fetch(`${am.url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([alert('MountStormImminent', 'critical'), alert('MountTableNearMax', 'warning')]),
      });
      expect(r.status).toBe(200);
      while (pd.events.length === 0 && Date.now() - sent < 15_000) await new Promise((res) => setTimeout(res, 100));
      expect(pd.rejected).toEqual([]);
      const page = pd.events[0];
      expect(page?.event_action).toBe('trigger');
      expect(page?.routing_key).toBe(am.keys.page);
      expect(page?.payload?.severity).toBe('critical');
      expect(page?.payload?.summary).toBe('[FIRING] MountStormImminent on node1:9866: MountStormImminent summary');
      expect(page?.payload?.component).toBe('MountStormImminent');
      expect(page?.payload?.group).toBe('node1:9866');
      expect(page?.payload?.custom_details?.runbook_url).toBe(`${RUNBOOK_BASE}/MountStormImminent.md`);
      expect((page?.receivedAt ?? Infinity) - sent).toBeLessThan(8000);
      const listed = (await (await fetch(`${am.url}/api/v2/alerts`)).json()) as { labels: { alertname: string }; status: { inhibitedBy: string[] } }[];
      const warning = listed.find((a) => a.labels.alertname === 'MountTableNearMax');
      expect(warning?.status.inhibitedBy.length).toBeGreaterThan(0);
    } finally {
      am.proc.kill('SIGKILL');
      await pd.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
