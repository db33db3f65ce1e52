/** The mountinfo parser on text the real kernel writes past 1 MiB (procfs once returned no mounts there). */
import { execFileSync } from 'node:child_process';

import { IS_ROOT, requireInCi, testIf } from '../support/env';
import { parseMountinfo } from '../../src/procfs/mountinfo/parse';

describe('mountinfo over 1 MiB from the real kernel', () => {
  requireInCi(IS_ROOT, 'root to mount');
  testIf(IS_ROOT, 'needs root (CAP_SYS_ADMIN) to mount in a private namespace')(
    '1500 mounts with 750-byte mount points all parse',
    () => {
      const script = `
      set -e; d=$(mktemp -d /tmp/mountstorm-big.XXXXXX); mount -t tmpfs big "$d"
      long=$(printf 'x%.0s' $(seq 1 240)); mkdir -p "$d/$long/$long"
      for i in $(seq 1 1500); do mkdir "$d/$long/$long/$long.$i"; mount -t tmpfs "s$i" "$d/$long/$long/$long.$i"; done
      cat /proc/self/mountinfo; umount -l "$d"; rmdir "$d"`;
      const text = execFileSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {
        maxBuffer: 64 << 20,
      }).toString();
      expect(text.length).toBeGreaterThan(1 << 20);
      const r = parseMountinfo(text);
      expect(r.errors).toEqual([]);
      expect(r.mounts).toHaveLength(text.trim().split('\n').length);
      expect(
        r.mounts.filter((m) => m.source.startsWith('s') && m.fsType === 'tmpfs' && /\.\d+$/.test(m.mountPoint)),
      ).toHaveLength(1500);
    },
  );
});
