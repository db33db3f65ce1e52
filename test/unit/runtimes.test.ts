import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseBundleConfig, readBundle } from '../../src/oci/bundle';
import {
  containerdRuntime,
  parseStorageContainers,
  storageContainerDirs,
  StorageContainers,
  storageRuntime,
} from '../../src/oci/runtimes';
import { FIXTURES } from '../support/env';

const fixture = (...p: string[]) => path.join(FIXTURES, 'runtimes', ...p);

describe('container runtimes: layouts and annotations', () => {
  test("CRI-O's spec: its own annotations name the image, the pod and the container; the runtime is CRI-O", () => {
    const dir = '/run/containers/storage/overlay-containers/5b0e3f0c9d4a/userdata';
    const b = parseBundleConfig(fs.readFileSync(fixture('cri-o/config.json'), 'utf8'), dir);
    expect(b).toMatchObject({
      id: '5b0e3f0c9d4a',
      image: 'registry.example/team/web:1.4',
      podNamespace: 'shop',
      podName: 'web-7d9c-x2',
      containerName: 'web',
      containerType: 'container',
      manager: 'cri-o',
      userNamespace: true,
      maskedPaths: 106,
      perCpuMaskedPaths: 96,
    });
    expect(b.rootfs).toMatch(/^\/var\/lib\/containers\/storage\/overlay\/[0-9a-f]+\/merged$/);
    expect(storageRuntime(b)).toBe('cri-o');
    // CRI-O's container type without its manager annotation is still CRI-O's.
    expect(storageRuntime({ manager: undefined, containerType: 'sandbox' })).toBe('cri-o');
  });

  test("Podman's spec (captured from podman 4.3): the runtime is Podman, the image is only in containers.json", () => {
    const id = '1378fc168fd55ce1be251de105d20abfa2bcc8c83500d9dd62491e1ff5efa048';
    const dir = `/var/lib/containers/storage/overlay-containers/${id}/userdata`;
    const b = parseBundleConfig(fs.readFileSync(fixture('podman/config.json'), 'utf8'), dir);
    expect(b).toMatchObject({ id, image: undefined, manager: 'libpod', userNamespace: true, containerType: undefined });
    expect(storageRuntime(b)).toBe('podman');
    const stored = parseStorageContainers(fs.readFileSync(fixture('podman/containers.json'), 'utf8'));
    expect(stored.get(id)).toEqual({ image: 'localhost/bb:1', name: 'web' });
  });

  test('containers.json: foreign, broken or partial entries are skipped, never thrown', () => {
    expect(parseStorageContainers('not json').size).toBe(0);
    expect(parseStorageContainers('{"id":"x"}').size).toBe(0);
    const m = parseStorageContainers(
      JSON.stringify([
        { id: 'a', names: ['first'], metadata: '{not json' },
        { id: 'b', metadata: JSON.stringify({ 'image-name': 'quay.io/x:1', name: 'web' }) },
        { names: ['no id'] },
        42,
        { id: 'c', metadata: '"a string"', names: [7, 'named'] },
      ]),
    );
    expect([...m]).toEqual([
      ['a', { image: undefined, name: 'first' }],
      ['b', { image: 'quay.io/x:1', name: 'web' }],
      ['c', { image: undefined, name: 'named' }],
    ]);
  });

  test("containerd's namespaces: Docker's moby is docker, every other namespace containerd's own", () => {
    expect(containerdRuntime('moby')).toBe('docker');
    expect(containerdRuntime('k8s.io')).toBe('containerd');
    expect(containerdRuntime('default')).toBe('containerd');
    expect(storageRuntime(undefined)).toBe('unknown');
    expect(storageRuntime({ manager: 'something-else', containerType: undefined })).toBe('unknown');
  });

  test("a store's container directories are found per driver; containers.json is read again only when an id is missing and the file changed, at most once per interval", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-store-'));
    try {
      for (const d of ['overlay-containers', 'vfs-containers', 'overlay-layers', 'overlay'])
        fs.mkdirSync(path.join(root, d));
      fs.writeFileSync(path.join(root, 'overlay-containers-not-a-dir'), '');
      expect(
        storageContainerDirs(root)
          .map((d) => path.basename(d))
          .sort(),
      ).toEqual(['overlay-containers', 'vfs-containers']);
      expect(storageContainerDirs(path.join(root, 'absent'))).toEqual([]);

      const dir = path.join(root, 'overlay-containers');
      const write = (ids: string[]) =>
        fs.writeFileSync(
          path.join(dir, 'containers.json'),
          JSON.stringify(ids.map((id) => ({ id, metadata: JSON.stringify({ 'image-name': `img/${id}` }) }))),
        );
      const store = new StorageContainers(dir, 1000);
      expect(store.lookup('a', 0)).toBeUndefined(); // no file yet
      write(['a']);
      expect(store.lookup('a', 500)).toBe('later'); // read 500 ms ago: waits for the interval
      expect(store.lookup('a', 1000)).toEqual({ image: 'img/a', name: undefined });
      expect(store.lookup('a', 1001)).toEqual({ image: 'img/a', name: undefined }); // a hit reads nothing
      write(['a', 'b']);
      fs.utimesSync(path.join(dir, 'containers.json'), new Date(), new Date(Date.now() + 5000));
      expect(store.lookup('b', 1500)).toBe('later');
      expect(store.lookup('b', 2000)).toEqual({ image: 'img/b', name: undefined });
      fs.writeFileSync(path.join(dir, 'containers.json'), 'x'.repeat(10));
      fs.utimesSync(path.join(dir, 'containers.json'), new Date(), new Date(Date.now() + 10_000));
      expect(store.lookup('c', 3000)).toBeUndefined(); // broken file: nothing, and no throw
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('a stored spec is read with the bundle rules: the id is the directory above userdata', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-store-'));
    try {
      const userdata = path.join(root, 'overlay-containers', 'c0ffee', 'userdata');
      fs.mkdirSync(userdata, { recursive: true });
      fs.copyFileSync(fixture('cri-o/config.json'), path.join(userdata, 'config.json'));
      expect(readBundle(userdata)).toMatchObject({ id: 'c0ffee', manager: 'cri-o', podName: 'web-7d9c-x2' });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
