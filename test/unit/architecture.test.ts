/**
 * The shape of the tree, checked: dependencies point one way (only the CLI reaches the storm drill
 * and the doctor), only src/kernel/ loads koffi, and metric names are written only where they are
 * owned (the collector that exports the metric, the sampler for the exporter's own, the exposition).
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
  const specs = [...text.matchAll(/(?:from\s+|require\()\s*'([^']+)'/g)].map((m) => m[1] as string);
  return specs.map((s) => (s.startsWith('.') ? path.relative(SRC, path.resolve(SRC, path.dirname(file), s)) : s));
}

test('the walk finds the tree', () => {
  expect(SOURCES.length).toBeGreaterThan(50);
  expect(imports('collectors/mounts.ts', SOURCES.find((s) => s.file === 'collectors/mounts.ts')?.text ?? '')).toContain(
    'sources/mount-table/source',
  );
});

test('no module outside src/storm/ and src/doctor/ imports from them, but the CLI', () => {
  const wrong = SOURCES.filter((s) => !/^(storm|doctor)\//.test(s.file) && s.file !== 'cli.ts').flatMap((s) =>
    imports(s.file, s.text)
      .filter((i) => /^(storm|doctor)\//.test(i))
      .map((i) => `${s.file} → ${i}`),
  );
  expect(wrong).toEqual([]);
});

test('the storm drill and the doctor do not import each other', () => {
  const wrong = SOURCES.flatMap((s) => {
    const own = s.file.split('/')[0];
    const other = own === 'storm' ? 'doctor' : own === 'doctor' ? 'storm' : undefined;
    return other
      ? imports(s.file, s.text)
          .filter((i) => i.startsWith(`${other}/`))
          .map((i) => `${s.file} → ${i}`)
      : [];
  });
  expect(wrong).toEqual([]);
});

test('only src/kernel/ loads koffi', () => {
  const wrong = SOURCES.filter((s) => !s.file.startsWith('kernel/') && imports(s.file, s.text).includes('koffi')).map(
    (s) => s.file,
  );
  expect(wrong).toEqual([]);
});

test('metric names are written only by their owners: the collectors, the sampler, the exposition, the evaluator, the page capability and the notifier', () => {
  // A metric name in a string or template literal, not inside a recording rule's name (level:metric:op).
  const owners =
    /^(collectors\/[\w-]+\.ts|sampler\.ts|exposition\.ts|alerts\/evaluate\.ts|alerts\/capability\.ts|notify\/metrics\.ts)$/;
  const literal = /(['`])((?:\\.|(?!\1)[^\\])*)\1/g;
  const name = /(?<![:\w])mountstorm_[a-z_]+/;
  const wrong = SOURCES.filter((s) => !owners.test(s.file)).flatMap((s) => {
    const code = s.text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    return [...code.matchAll(literal)]
      .filter((m) => name.test(m[2] as string))
      .map((m) => `${s.file}: ${(m[2] as string).slice(0, 80)}`);
  });
  expect(wrong).toEqual([]);
});
