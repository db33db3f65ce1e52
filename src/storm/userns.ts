/**
 * A user namespace for idmapped mounts: 0-65535 mapped to 100000-165535, held open by a helper
 * (`unshare --user cat`) that exits once told (or with us). Used by the storm's child, and by the
 * tests that make idmapped mounts as a runtime does.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

/** The namespace's descriptor, and `done` to let its helper go. */
export async function userNamespace(): Promise<{ fd: number; done: () => void }> {
  const helper = spawn('unshare', ['--user', '--', 'cat'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const nsPath = `/proc/${helper.pid}/ns/user`;
  const deadline = Date.now() + 5000;
  // Wait until the helper has entered its own user namespace.
  while (fs.readlinkSync(nsPath) === fs.readlinkSync('/proc/self/ns/user')) {
    if (Date.now() > deadline || helper.exitCode !== null) throw new Error('user namespace helper did not start');
    await new Promise((r) => setTimeout(r, 5));
  }
  fs.writeFileSync(`/proc/${helper.pid}/uid_map`, '0 100000 65536\n');
  fs.writeFileSync(`/proc/${helper.pid}/gid_map`, '0 100000 65536\n');
  const fd = fs.openSync(nsPath, 'r');
  return { fd, done: () => helper.stdin?.end() };
}
