/**
 * Run by `mountstorm doctor` as `unshare --mount --propagation private node tracefs-events.js`
 * where no tracefs is mounted: mounts one privately, lists the events the tracefs collector needs,
 * prints them as JSON. The mount vanishes with this process's namespace.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TRACED_SYSCALLS } from '../tracefs/aggregate';
import { mount, umount2 } from '../storm/syscalls';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-doctor-'));
let mounted = false;
try {
  mount('tracefs', dir, 'tracefs', 0);
  mounted = true;
  const has = (e: string) => fs.existsSync(path.join(dir, 'events', e));
  const syscalls = fs.existsSync(path.join(dir, 'events/syscalls')) ? fs.readdirSync(path.join(dir, 'events/syscalls')).filter((n) => n.startsWith('sys_enter_')).map((n) => n.slice(10)).filter((n) => TRACED_SYSCALLS.some((s) => s.name === n)) : [];
  process.stdout.write(JSON.stringify({ syscalls, lockContention: has('lock/contention_begin') && has('lock/contention_end') }) + '\n');
} finally {
  if (mounted) umount2(dir);
  fs.rmdirSync(dir);
}
