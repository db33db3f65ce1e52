/**
 * The shape of the tree, checked: dependencies point one way, down the layers below (so only the
 * commands reach the storm drill and the doctor, and those two never each other), only src/kernel/
 * loads koffi, and metric names are written only in their catalogue.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from '../support/env';

const SRC = path.join(REPO, 'src');

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
    );
}

const SOURCES = files(SRC).map((f) => ({ file: path.relative(SRC, f), text: fs.readFileSync(f, 'utf8') }));

/** Every module a file imports or requires, as a path relative to src/ (packages as they are named). */
function imports(file: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:from\s+|require\(|import\()\s*'([^']+)'/g)].map((m) => m[1] as string);
  return specs.map((s) => (s.startsWith('.') ? path.relative(SRC, path.resolve(SRC, path.dirname(file), s)) : s));
}

test('the walk finds the tree', () => {
  expect(SOURCES.length).toBeGreaterThan(50);
  expect(imports('collectors/mounts.ts', SOURCES.find((s) => s.file === 'collectors/mounts.ts')?.text ?? '')).toContain(
    'sources/mount-table/source',
  );
});

test('only src/kernel/ loads koffi', () => {
  const wrong = SOURCES.filter((s) => !s.file.startsWith('kernel/') && imports(s.file, s.text).includes('koffi')).map(
    (s) => s.file,
  );
  expect(wrong).toEqual([]);
});

test('metric names are written only in the catalogue, src/metric-names.ts', () => {
  // A metric name in a string or template literal, not inside a recording rule's name (level:metric:op).
  const literal = /(['`])((?:\\.|(?!\1)[^\\])*)\1/g;
  const name = /(?<![:\w])mountstorm_[a-z_]+/;
  const wrong = SOURCES.filter((s) => s.file !== 'metric-names.ts').flatMap((s) => {
    const code = s.text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    return [...code.matchAll(literal)]
      .filter((m) => name.test(m[2] as string))
      .map((m) => `${s.file}: ${(m[2] as string).slice(0, 80)}`);
  });
  expect(wrong).toEqual([]);
});

/**
 * The folders (and top-level files) of src/, lowest first. A module may import from its own entry
 * and from entries in lower layers only: never upwards, never sideways. Every entry of src/ must be
 * placed here, so a new folder is a decision about where it stands.
 */
const LAYERS: readonly string[][] = [
  ['errors'],
  ['log', 'flags', 'yaml-mapping', 'version', 'metric-names'],
  ['bounded-labels', 'exposition', 'fs'],
  ['kernel', 'procfs', 'sysfs'],
  ['oci'],
  ['sources'],
  ['collectors'],
  ['sample'],
  ['alerts'],
  ['notify', 'web'],
  ['landing'],
  ['server', 'grafana'],
  ['config', 'mixin'],
  ['main'],
  ['storm', 'doctor'],
  ['commands'],
  ['cli'],
];

/** A module's entry: its top folder under src/, or its own name for a top-level file. */
const entry = (file: string) => file.split('/')[0]?.replace(/\.ts$/, '') as string;
const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n): [string, number] => [n, i])));

test('every entry of src/ has a layer', () => {
  const entries = [...new Set(SOURCES.map((s) => entry(s.file)))].sort();
  expect(entries.filter((e) => !layerOf.has(e))).toEqual([]);
  expect([...layerOf.keys()].filter((e) => !entries.includes(e))).toEqual([]);
});

test('imports point down the layers: none upwards, none sideways', () => {
  const wrong = SOURCES.flatMap((s) => {
    const from = entry(s.file);
    return imports(s.file, s.text)
      .filter((i) => !path.isAbsolute(i) && !i.startsWith('..') && fs.existsSync(path.join(SRC, `${i}.ts`)))
      .filter((i) => {
        const to = entry(i);
        return to !== from && (layerOf.get(to) as number) >= (layerOf.get(from) as number);
      })
      .map((i) => `${s.file} → ${i}`);
  });
  expect(wrong).toEqual([]);
});

test('the layering check sees a back-edge', () => {
  // What the test above would say of a collector importing the alert spec, and of config reading the sampler.
  const back = (from: string, to: string) => (layerOf.get(entry(to)) as number) >= (layerOf.get(entry(from)) as number);
  expect(back('collectors/tracefs.ts', 'alerts/thresholds')).toBe(true);
  expect(back('sources/mount-table/source.ts', 'collectors/mounts')).toBe(true);
  expect(back('notify/notifier.ts', 'web/auth')).toBe(true); // sideways
  expect(back('alerts/spec.ts', 'sample/history')).toBe(false);
});
