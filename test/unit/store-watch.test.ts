/**
 * The containers/storage watch on a real directory (inotify): a container's start is its
 * userdata/config.json appearing, told once, however the store makes it (the directories first,
 * the spec later, as `podman create` then `start`; the spec renamed into place); containers there
 * before the watch began are no start unless they start later; a removed container is told gone.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StoreWatch } from '../../src/sources/bundles/store-watch';
import { recorder } from '../support/recorder';

interface Told {
  kind: 'spec' | 'gone';
  id: string;
}

function watchAt(dir: string) {
  const { told, tell, until } = recorder<Told>();
  const w = new StoreWatch(dir, {
    spec: (id) => tell({ kind: 'spec', id }),
    gone: (id) => tell({ kind: 'gone', id }),
    error: (err) => {
      throw err;
    },
  });
  return { w, told, until };
}

const spec = (dir: string, id: string) => {
  fs.mkdirSync(path.join(dir, id, 'userdata'), { recursive: true });
  fs.writeFileSync(path.join(dir, id, 'userdata', 'config.json'), '{}');
};

describe('StoreWatch', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-store-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('tells each spec that appears once, whatever order the store makes its directories in', async () => {
    const { w, told, until } = watchAt(dir);
    try {
      // Created, then started: the id, its userdata, then (later) its spec.
      fs.mkdirSync(path.join(dir, 'a'));
      fs.mkdirSync(path.join(dir, 'a', 'userdata'));
      fs.writeFileSync(path.join(dir, 'a', 'userdata', 'hosts'), '');
      spec(dir, 'b');
      await until(1);
      expect(told).toEqual([{ kind: 'spec', id: 'b' }]);
      expect(w.waiting).toBe(1);
      // The spec renamed into place, as a store writes it whole.
      fs.writeFileSync(path.join(dir, 'a', 'userdata', '.config.json.tmp'), '{}');
      fs.renameSync(
        path.join(dir, 'a', 'userdata', '.config.json.tmp'),
        path.join(dir, 'a', 'userdata', 'config.json'),
      );
      await until(2);
      // Written again (a restart's rewrite) and more files beside it: no second start.
      fs.writeFileSync(path.join(dir, 'a', 'userdata', 'config.json'), '{ }');
      fs.writeFileSync(path.join(dir, 'a', 'userdata', 'pidfile'), '1');
      fs.rmSync(path.join(dir, 'b'), { recursive: true });
      await until(3);
      expect(told).toEqual([
        { kind: 'spec', id: 'b' },
        { kind: 'spec', id: 'a' },
        { kind: 'gone', id: 'b' },
      ]);
      expect(w.waiting).toBe(0);
    } finally {
      await w.close();
    }
  });

  it('containers there before the watch: started ones are no start, created ones start when their spec comes', async () => {
    spec(dir, 'running');
    fs.mkdirSync(path.join(dir, 'created', 'userdata'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'bare'));
    const { w, told, until } = watchAt(dir);
    try {
      expect(w.waiting).toBe(2);
      fs.writeFileSync(path.join(dir, 'bare', 'layer'), '');
      fs.mkdirSync(path.join(dir, 'bare', 'userdata'));
      fs.writeFileSync(path.join(dir, 'bare', 'userdata', 'config.json'), '{}');
      fs.writeFileSync(path.join(dir, 'created', 'userdata', 'config.json'), '{}');
      await until(2);
      expect(told.map((t) => t.id).sort()).toEqual(['bare', 'created']);
      expect(told.every((t) => t.kind === 'spec')).toBe(true);
    } finally {
      await w.close();
    }
  });

  it('stops telling once closed', async () => {
    const { w, told } = watchAt(dir);
    fs.mkdirSync(path.join(dir, 'x', 'userdata'), { recursive: true });
    await w.close();
    fs.writeFileSync(path.join(dir, 'x', 'userdata', 'config.json'), '{}');
    spec(dir, 'y');
    // The watch is closed: a later watch on the same directory sees the change, this one does not.
    const second = watchAt(dir);
    spec(dir, 'z');
    await second.until(1);
    await second.w.close();
    expect(told).toEqual([]);
  });
});
