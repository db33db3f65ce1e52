/**
 * Exactly K tmpfs mounts and K umount2 calls on DIR, nothing else mount-related. Run it under a
 * unique executable name (a symlink to node) so its syscalls can be told apart by comm.
 * usage: node mount-k.js DIR K
 */
import { mount, umount2 } from '../../src/kernel/mount';

const [dir, k] = process.argv.slice(2) as [string, string];
for (let i = 0; i < Number(k); i++) {
  mount('mountstorm-k', dir, 'tmpfs', 0);
  umount2(dir);
}
