/**
 * The fire drill as a test: real prometheus, real Alertmanager with the shipped config, a local
 * PagerDuty Events API v2 receiver, a quiet window and then a sustained real storm.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ARTIFACTS, IS_ROOT, hasCommand, requireInCi, testIf } from '../support/env';
import { runFireDrill } from '../support/fire-drill';

const ready = IS_ROOT && hasCommand('prometheus') && hasCommand('prometheus-alertmanager');
requireInCi(ready, 'root, prometheus and prometheus-alertmanager for the fire drill');

testIf(ready, 'needs root (storm, tracefs) and Debian prometheus + prometheus-alertmanager (scripts/setup-test.sh)')(
  'a sustained storm pages PagerDuty within 30 s of onset, resolves after it; an equally long quiet run sends nothing',
  async () => {
    const lines: string[] = [];
    const r = await runFireDrill({ stormSeconds: 30, concurrency: 8, layers: 50, log: (l) => lines.push(l) });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.writeFileSync(path.join(ARTIFACTS, 'fire-drill.json'), JSON.stringify({ log: lines, ...r }, null, 2));
    // eslint-disable-next-line no-console
    console.log(`fire drill: onset to page ${r.onsetToPageSeconds?.toFixed(1)} s, storm end to resolve ${r.endToResolveSeconds?.toFixed(1)} s\n${lines.join('\n')}`);

    expect(r.quietEvents).toEqual([]);
    expect(r.rejected).toBe(0);
    expect(r.trigger).toBeDefined();
    expect(r.onsetToPageSeconds).toBeLessThan(30);
    const t = r.trigger!;
    expect(t.routing_key).toBe('p'.repeat(32)); // the page service's key, read from routing_key_file
    expect(t.payload?.severity).toBe('critical');
    expect(t.payload?.component).toMatch(/^MountStorm/);
    expect(t.payload?.summary).toMatch(/^\[FIRING\] MountStorm\w+ on 127\.0\.0\.1:\d+: /);
    expect(t.payload?.source).toBeTruthy();
    expect(r.resolve?.event_action).toBe('resolve');
    expect(r.storm?.operations).toBeGreaterThan(0);
  },
  300_000,
);
