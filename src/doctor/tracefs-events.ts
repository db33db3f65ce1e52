/**
 * Run by `mountstorm doctor` as `unshare --mount --propagation private node tracefs-events.js`
 * where no tracefs is mounted: mounts one privately, lists the events the tracefs collector needs,
 * prints them as JSON. The mount vanishes with this process's namespace.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mount, umount2 } from '../kernel/mount';
import { availableEvents } from '../sources/tracefs/events';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-doctor-'));
let mounted = false;
try {
  mount('tracefs', dir, 'tracefs', 0);
  mounted = true;
  process.stdout.write(JSON.stringify(availableEvents(dir)) + '\n');
} finally {
  if (mounted) umount2(dir);
  fs.rmdirSync(dir);
}
