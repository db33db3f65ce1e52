/** The exporter without privileges: what each collector does, and the exporter keeps serving. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { asNobody, IS_ROOT, REPO, hasCommand, requireInCi, testIf } from '../support/env';
import { startExporter } from '../support/exporter';
import { faultTrees as trees } from '../support/fixtures';
import { sum, type Sample } from '../support/metrics';

const success = (m: Sample[], c: string) => sum(m, 'mountstorm_sample_collector_success', { collector: c });

requireInCi(IS_ROOT && hasCommand('setpriv'), 'root and setpriv');
testIf(IS_ROOT && hasCommand('setpriv'), 'needs root to drop to an unprivileged user')(
  'EACCES on mountinfo: the collector fails with the reason, the exporter serves',
  async () => {
    const t = trees();
    fs.chmodSync(path.join(t.proc, '1/mountinfo'), 0o000);
    const exp = await startExporter(t.args, { unprivileged: true });
    try {
      const m = await exp.waitSamples(4);
      expect(success(m, 'mounts')).toBe(0);
      expect(success(m, 'cpu')).toBe(1);
      expect(exp.logs()).toMatch(/collector=mounts err=".*EACCES/);
      expect(exp.logs().match(/collector failed" collector=mounts/g)).toHaveLength(1);
    } finally {
      await exp.stop();
      fs.rmSync(t.root, { recursive: true, force: true });
    }
  },
);

requireInCi(IS_ROOT && hasCommand('setpriv'), 'root and setpriv');
testIf(IS_ROOT && hasCommand('setpriv'), 'needs root to make a 0700 directory nobody cannot enter')(
  "from a clone under a 0700 directory the unprivileged runs still read the build (as in root's home)",
  () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-home-'));
    try {
      fs.chmodSync(home, 0o700);
      const clone = path.join(home, 'mountstorm');
      fs.symlinkSync(REPO, clone);
      const cli = path.join(clone, 'dist/src/cli.js');
      // Straight through the 0700 directory, nobody cannot load the build…
      const direct = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, cli, '--version'],
        { encoding: 'utf8' },
      );
      expect(direct.status).not.toBe(0);
      expect(direct.stderr).toMatch(/EACCES|permission denied|Cannot find module/i);
      // …the way the tests run it unprivileged, it can.
      const [cmd, ...args] = asNobody([process.execPath, cli, '--version'], clone);
      const r = spawnSync(cmd as string, args, { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^mountstorm \d+\.\d+\.\d+ /);
      expect(r.status).toBe(0);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  },
);
