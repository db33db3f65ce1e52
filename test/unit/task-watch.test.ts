/**
 * containerd's task directory watched on a real directory (inotify): a start is a new
 * `<namespace>/<id>`, told once; bundles there before the watch began are no start; a namespace made
 * with its first bundle loses none; a bundle made and removed before the event loop looked is still a
 * start, told once; containerd's removal (renamed to `.<id>`, then deleted) is one gone.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TaskDirWatch } from '../../src/sources/bundles/task-watch';
import { recorder } from '../support/recorder';

type Told = { kind: 'task'; ns: string; id: string; gone: boolean } | { kind: 'gone'; ns: string; id: string };

function watchAt(dir: string) {
  const { told, tell, until } = recorder<Told>();
  const w = new TaskDirWatch(dir, {
    task: (ns, id, gone) => tell({ kind: 'task', ns, id, gone }),
    gone: (ns, id) => tell({ kind: 'gone', ns, id }),
    error: (err) => {
      throw err;
    },
  });
  return { w, told, until };
}

describe('TaskDirWatch', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-tasks-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('tells each new bundle once, not those there before, nor dot names or files in a bundle', async () => {
    fs.mkdirSync(path.join(dir, 'k8s.io', 'running'), { recursive: true });
    const { w, told, until } = watchAt(dir);
    try {
      fs.mkdirSync(path.join(dir, 'k8s.io', '.hidden'));
      fs.mkdirSync(path.join(dir, 'k8s.io', 'a'));
      fs.writeFileSync(path.join(dir, 'k8s.io', 'a', 'config.json'), '{}');
      fs.mkdirSync(path.join(dir, 'k8s.io', 'b'));
      await until(2);
      // containerd removes a bundle by renaming it to .<id> first.
      fs.renameSync(path.join(dir, 'k8s.io', 'a'), path.join(dir, 'k8s.io', '.a'));
      fs.rmSync(path.join(dir, 'k8s.io', '.a'), { recursive: true });
      await until(3);
      fs.mkdirSync(path.join(dir, 'k8s.io', 'c'));
      await until(4);
      expect(told).toEqual([
        { kind: 'task', ns: 'k8s.io', id: 'a', gone: false },
        { kind: 'task', ns: 'k8s.io', id: 'b', gone: false },
        { kind: 'gone', ns: 'k8s.io', id: 'a' },
        { kind: 'task', ns: 'k8s.io', id: 'c', gone: false },
      ]);
    } finally {
      await w.close();
    }
  });

  it('a namespace made together with its first bundle loses it', async () => {
    const { w, told, until } = watchAt(dir);
    try {
      // Docker's first container: `moby` and its bundle at once, before any event is looked at.
      fs.mkdirSync(path.join(dir, 'moby', 'first'), { recursive: true });
      await until(1);
      fs.mkdirSync(path.join(dir, 'moby', 'second'));
      await until(2);
      expect(told).toEqual([
        { kind: 'task', ns: 'moby', id: 'first', gone: false },
        { kind: 'task', ns: 'moby', id: 'second', gone: false },
      ]);
    } finally {
      await w.close();
    }
  });

  it('a bundle made and removed before the event loop looked is a start, told once', async () => {
    fs.mkdirSync(path.join(dir, 'k8s.io'));
    const { w, told, until } = watchAt(dir);
    try {
      // All in one turn of the loop: both events are looked at after the bundle has gone.
      for (const id of ['x', 'y']) {
        fs.mkdirSync(path.join(dir, 'k8s.io', id));
        fs.rmdirSync(path.join(dir, 'k8s.io', id));
      }
      fs.mkdirSync(path.join(dir, 'k8s.io', 'z'));
      await until(3);
      // The removals' events come after; a later bundle shows nothing more was told for x and y.
      await new Promise((r) => setTimeout(r, 50));
      fs.mkdirSync(path.join(dir, 'k8s.io', 'last'));
      await until(4);
      expect(told).toEqual([
        { kind: 'task', ns: 'k8s.io', id: 'x', gone: true },
        { kind: 'task', ns: 'k8s.io', id: 'y', gone: true },
        { kind: 'task', ns: 'k8s.io', id: 'z', gone: false },
        { kind: 'task', ns: 'k8s.io', id: 'last', gone: false },
      ]);
    } finally {
      await w.close();
    }
  });

  it('a namespace removed is no longer watched; made again, its bundles are starts', async () => {
    fs.mkdirSync(path.join(dir, 'default', 'old'), { recursive: true });
    const { w, told, until } = watchAt(dir);
    try {
      fs.rmSync(path.join(dir, 'default'), { recursive: true });
      await new Promise((r) => setTimeout(r, 50));
      fs.mkdirSync(path.join(dir, 'default', 'new'), { recursive: true });
      await until(2);
      expect(told).toEqual([
        { kind: 'gone', ns: 'default', id: 'old' },
        { kind: 'task', ns: 'default', id: 'new', gone: false },
      ]);
    } finally {
      await w.close();
    }
  });
});
