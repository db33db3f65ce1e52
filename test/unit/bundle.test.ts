import * as fc from 'fast-check';
import { BundleError, MAX_VALUE, parseBundleConfig } from '../../src/oci/bundle';
import { BoundedLabels, OTHER } from '../../src/bounded-labels';

describe('OCI bundle config.json', () => {
  test("containerd's CRI annotations name the image, the pod and the container; uid mappings mean a user namespace", () => {
    const config = {
      ociVersion: '1.2.0',
      root: { path: 'rootfs' },
      annotations: {
        'io.kubernetes.cri.container-type': 'container',
        'io.kubernetes.cri.container-name': 'web',
        'io.kubernetes.cri.image-name': 'registry.example/team/web:1.4',
        'io.kubernetes.cri.sandbox-name': 'web-7d9c-x2',
        'io.kubernetes.cri.sandbox-namespace': 'shop',
      },
      linux: { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] },
    };
    expect(
      parseBundleConfig(JSON.stringify(config), '/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc123'),
    ).toEqual({
      id: 'abc123',
      image: 'registry.example/team/web:1.4',
      podNamespace: 'shop',
      podName: 'web-7d9c-x2',
      containerName: 'web',
      containerType: 'container',
      userNamespace: true,
      rootfs: '/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc123/rootfs',
      maskedPaths: 0,
      perCpuMaskedPaths: 0,
    });
  });

  test('masked paths: counted, and those per CPU apart (the thermal_throttle masks of a 96-CPU host)', () => {
    // What kubelet sends since kubernetes PR 131018 on a 96-CPU host, after the runtime's defaults.
    const defaults = [
      '/proc/acpi',
      '/proc/kcore',
      '/proc/keys',
      '/proc/latency_stats',
      '/proc/timer_list',
      '/sys/firmware',
    ];
    const perCpu = Array.from({ length: 96 }, (_, n) => `/sys/devices/system/cpu/cpu${n}/thermal_throttle`);
    const b = parseBundleConfig(
      JSON.stringify({ linux: { maskedPaths: [...defaults, ...perCpu, 42, '', '/sys/devices/system/cpu/cpufreq'] } }),
      '/t/k8s.io/c1',
    );
    // Not strings, or empty, are no paths; cpufreq is no cpu<N> component.
    expect({ maskedPaths: b.maskedPaths, perCpuMaskedPaths: b.perCpuMaskedPaths }).toEqual({
      maskedPaths: 6 + 96 + 1,
      perCpuMaskedPaths: 96,
    });
    expect(parseBundleConfig('{"linux":{"maskedPaths":"/proc/kcore"}}', '/t/k8s.io/c2').maskedPaths).toBe(0);
  });

  test('a ctr-style bundle: no annotations, a user namespace in linux.namespaces, an absolute root', () => {
    const b = parseBundleConfig(
      JSON.stringify({
        root: { path: '/var/lib/x/rootfs' },
        linux: { namespaces: [{ type: 'pid' }, { type: 'user' }] },
      }),
      '/t/default/box1',
    );
    expect(b).toMatchObject({
      id: 'box1',
      image: undefined,
      podName: undefined,
      containerType: undefined,
      userNamespace: true,
      rootfs: '/var/lib/x/rootfs',
    });
    expect(
      parseBundleConfig('{"annotations":{"org.opencontainers.image.ref.name":"busybox"}}', '/t/d/b2'),
    ).toMatchObject({ image: 'busybox', userNamespace: false, rootfs: undefined });
  });

  test('a hostile value is cut to MAX_VALUE characters: a label, not a megabyte', () => {
    const b = parseBundleConfig(
      JSON.stringify({ annotations: { 'io.kubernetes.cri.image-name': 'x'.repeat(100_000) } }),
      '/t/ns/id',
    );
    expect(b.image).toHaveLength(MAX_VALUE);
    expect(b.image?.endsWith('…')).toBe(true);
  });

  test.each([
    ['not JSON', '{"ociVersion": "1.2.0", "annotations": {', 'not_json'],
    ['an array', '[1,2]', 'not_an_object'],
    ['a string', '"x"', 'not_an_object'],
    ['null', 'null', 'not_an_object'],
  ])('%s is a BundleError with its reason', (_, text, reason) => {
    let err: unknown;
    try {
      parseBundleConfig(text, '/t/ns/id');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BundleError);
    expect((err as BundleError).reason).toBe(reason);
  });

  test('any JSON at all parses or is a BundleError, never a crash; wrong-typed fields are absent', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          const b = parseBundleConfig(JSON.stringify(v), '/t/ns/id');
          for (const k of ['image', 'podNamespace', 'podName', 'containerName', 'containerType', 'rootfs'] as const)
            expect(b[k] === undefined || typeof b[k] === 'string').toBe(true);
          expect(typeof b.userNamespace).toBe('boolean');
        } catch (e) {
          expect(e).toBeInstanceOf(BundleError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('bounded label values', () => {
  test('1,000 distinct images: at most slots + 1 series, every count kept, none moves between series', () => {
    const evicted: string[] = [];
    const b = new BoundedLabels(10, 60_000, (v) => evicted.push(v));
    const counts = new Map<string, number>();
    const firstLabel = new Map<string, string>();
    for (let i = 0; i < 1000; i++) {
      const image = `img-${i}`;
      for (let k = 0; k < 1 + (i % 3); k++) {
        const l = b.label(image, i); // all within the idle time: no slot is given up
        if (!firstLabel.has(image)) firstLabel.set(image, l);
        expect(l).toBe(firstLabel.get(image)); // the same series for every count of it
        counts.set(l, (counts.get(l) ?? 0) + 1);
      }
    }
    expect(counts.size).toBe(11);
    expect([...counts.keys()].filter((l) => l !== OTHER)).toEqual(Array.from({ length: 10 }, (_, i) => `img-${i}`));
    expect([...counts.values()].reduce((a, n) => a + n, 0)).toBe(
      Array.from({ length: 1000 }, (_, i) => 1 + (i % 3)).reduce((a, n) => a + n, 0),
    );
    expect(evicted).toEqual([]);
  });

  test('a slot idle for the idle time goes to the next new value; the evicted series is removed, the active ones stay', () => {
    const evicted: string[] = [];
    const b = new BoundedLabels(2, 1000, (v) => evicted.push(v));
    expect(b.label('a', 0)).toBe('a');
    expect(b.label('b', 0)).toBe('b');
    expect(b.label('c', 500)).toBe(OTHER); // nothing idle long enough
    expect(b.label('b', 900)).toBe('b'); // b stays active
    expect(b.label('c', 1000)).toBe('c'); // a idle 1 s: its slot goes to c
    expect(evicted).toEqual(['a']);
    expect(b.label('a', 1100)).toBe(OTHER); // a comes back: no idle slot now
    expect(b.values().sort()).toEqual(['b', 'c']);
    expect(b.label(OTHER, 0)).toBe(OTHER);
  });
});
