/**
 * Changes the mount table of the namespace it runs in (start it with nsenter -m), for the tests that
 * compare the two ways of reading a table. Operations come as JSON on argv[2]:
 *   {"op":"tmpfs","at":P} {"op":"bind","from":S,"at":P} {"op":"overlay","at":P,"lower":[…],"upper":U,"work":W}
 *   {"op":"idmap","from":S,"at":P} (an idmapped bind, as a per-layer-idmapping runtime makes)
 *   {"op":"umount","at":P}
 * Directories are created as needed.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { close, mount, mountSetattrIdmap, moveMount, MS_BIND, openTreeClone, umount2 } from '../../src/kernel/mount';

type Op =
  | { op: 'tmpfs'; at: string }
  | { op: 'bind'; from: string; at: string }
  | { op: 'overlay'; at: string; lower: string[]; upper: string; work: string }
  | { op: 'idmap'; from: string; at: string }
  | { op: 'umount'; at: string };

async function userNamespace(): Promise<{ fd: number; done: () => void }> {
  const helper = spawn('unshare', ['--user', '--', 'cat'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const nsPath = `/proc/${helper.pid}/ns/user`;
  while (fs.readlinkSync(nsPath) === fs.readlinkSync('/proc/self/ns/user')) await new Promise((r) => setTimeout(r, 5));
  fs.writeFileSync(`/proc/${helper.pid}/uid_map`, '0 100000 65536\n');
  fs.writeFileSync(`/proc/${helper.pid}/gid_map`, '0 100000 65536\n');
  return { fd: fs.openSync(nsPath, 'r'), done: () => helper.stdin?.end() };
}

async function main(): Promise<void> {
  const ops = JSON.parse(process.argv[2] ?? '[]') as Op[];
  let userns: { fd: number; done: () => void } | undefined;
  for (const o of ops) {
    if (o.op !== 'umount') fs.mkdirSync(o.at, { recursive: true });
    switch (o.op) {
      case 'tmpfs':
        mount('mountstorm-test', o.at, 'tmpfs', 0);
        break;
      case 'bind':
        mount(o.from, o.at, null, MS_BIND);
        break;
      case 'overlay':
        for (const d of [...o.lower, o.upper, o.work]) fs.mkdirSync(d, { recursive: true });
        mount('overlay', o.at, 'overlay', 0, `lowerdir=${o.lower.join(':')},upperdir=${o.upper},workdir=${o.work}`);
        break;
      case 'idmap': {
        userns ??= await userNamespace();
        const fd = openTreeClone(o.from);
        mountSetattrIdmap(fd, userns.fd);
        moveMount(fd, o.at);
        close(fd);
        break;
      }
      case 'umount':
        umount2(o.at);
        break;
    }
  }
  userns?.done();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
