// Shared by the fuzz tests (test/unit/fuzz-*.test.ts): the seed and case count (NOMAD_LAB_FUZZ_SEED,
// NOMAD_LAB_FUZZ_RUNS), hostile names, a YAML writer for generated documents, text-level mutations
// (alias bombs, deep nesting, duplicate keys, cuts), and the property every loader must keep.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, expect } from 'vitest';
import { UsageError } from '../../harness/util/errors.ts';

/** A fixed seed unless NOMAD_LAB_FUZZ_SEED says another, so a failure replays. */
export const SEED = Number(process.env['NOMAD_LAB_FUZZ_SEED'] ?? 20_260_611);
/** Cases per property; the defaults keep all fuzz files near 20 s on a 2-core machine. */
export const runs = (defaultRuns: number): number => Number(process.env['NOMAD_LAB_FUZZ_RUNS'] ?? defaultRuns);

/**
 * A temp directory for the case files, and a lab root that no loader may write to: the loaders are
 * pure (they read a file and return data or refuse), so a refused file leaves no partial lab. After
 * the file's tests: nothing else was written (checked), the lab root is the caller's again, the
 * directory is gone.
 */
export function sandbox(prefix: string): { dir: string; labRoot: string; written: Set<string>; write(name: string, data: string | Uint8Array): string } {
  const dir = mkdtempSync(join(tmpdir(), `nomad-lab-${prefix}-`));
  const labRoot = join(dir, 'lab-root');
  mkdirSync(labRoot);
  const before = process.env['NOMAD_LAB_ROOT'];
  process.env['NOMAD_LAB_ROOT'] = labRoot;
  const written = new Set<string>(['lab-root']);
  afterAll(() => {
    if (before === undefined) delete process.env['NOMAD_LAB_ROOT'];
    else process.env['NOMAD_LAB_ROOT'] = before;
    try {
      expectNothingWritten({ dir, labRoot, written });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return {
    dir,
    labRoot,
    written,
    write(name, data) {
      written.add(name);
      const file = join(dir, name);
      writeFileSync(file, data);
      return file;
    },
  };
}

/** Nothing but the case files in the temp directory, and nothing at all under the lab root. */
export function expectNothingWritten(box: { dir: string; labRoot: string; written: Set<string> }): void {
  expect(readdirSync(box.labRoot)).toEqual([]);
  expect(readdirSync(box.dir).filter((f) => !box.written.has(f))).toEqual([]);
}

/** Names a shell, a path, iptables or a URL would take apart, and values no name may be. */
export const HOSTILE_NAMES = [
  'a;b',
  '$(reboot)',
  '`id`',
  '../../etc/passwd',
  '..',
  '.',
  'a/b',
  'a\nb',
  'a\r\nb',
  'nul\u0000x',
  'tab\tx',
  ' lead',
  'trail ',
  '-rf',
  '--lab=x',
  'a|b',
  'a&&b',
  "it's",
  'say "hi"',
  'x'.repeat(33),
  'y'.repeat(65),
  'z'.repeat(10_000),
  'ÄÖÜ',
  'line\u2028sep',
  '',
  '*',
  '~',
  '__proto__',
  'constructor',
  'toString',
  '{{ lookup("pipe", "id") }}',
  '%2e%2e%2f',
  'A'.repeat(64),
];

export const hostileName = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_NAMES) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
    { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9-]{0,40}$/) },
  );

/** Any JSON-like value, for a field given the wrong type. */
export const wrongValue = (): fc.Arbitrary<unknown> =>
  fc.oneof(fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, '', 'x', [], {}, [null], { a: 1 }), hostileName(), fc.jsonValue({ maxDepth: 3 }));

/** YAML in block style; every string double-quoted as JSON writes it (JSON's escapes are YAML's). */
export function toYaml(value: unknown, indent = ''): string {
  const scalar = (v: unknown): string => (v === undefined ? 'null' : typeof v === 'number' && !Number.isFinite(v) ? '.nan' : JSON.stringify(v));
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return value.map((v) => `\n${indent}- ${isBlock(v) ? toYaml(v, `${indent}  `).trimStart() : scalar(v)}`).join('');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    return entries.map(([k, v]) => `\n${indent}${JSON.stringify(k)}:${isBlock(v) ? toYaml(v, `${indent}  `) : ` ${scalar(v)}`}`).join('');
  }
  return scalar(value);
}
const isBlock = (v: unknown): boolean => v !== null && typeof v === 'object' && Object.keys(v).length > 0;

/** A document as text: block YAML or JSON (which is YAML too). */
export const documentText = (doc: unknown): fc.Arbitrary<string> =>
  fc.constantFrom(`${toYaml(doc).trimStart()}\n`, `${toYaml(doc).trimStart()}\n`, `${JSON.stringify(doc, null, 2)}\n`, JSON.stringify(doc));

/** Paths of every node of a plain value, for mutations. */
export function paths(value: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) return [at, ...value.flatMap((v, i) => paths(v, [...at, i]))];
  if (value !== null && typeof value === 'object') return [at, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...at, k]))];
  return [at];
}

type Mutation = { kind: 'drop' | 'set' | 'add'; pick: number; value: unknown; key: string };

/** A mutation of a structured document: a key dropped, a value of the wrong type or a hostile name, a key added. */
export const mutation = (): fc.Arbitrary<Mutation> =>
  fc.record({
    kind: fc.constantFrom('drop', 'set', 'set', 'add'),
    pick: fc.nat(),
    value: fc.oneof(wrongValue(), hostileName(), deepValue()),
    key: fc.oneof(hostileName(), fc.constantFrom('name', 'extra', '__proto__', 'nomad', 'a/b', 'a~b')),
  });

/** Nested arrays and maps, 1-200 deep. */
export const deepValue = (): fc.Arbitrary<unknown> =>
  fc.integer({ min: 1, max: 200 }).map((depth) => {
    let v: unknown = 'bottom';
    for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { d: v };
    return v;
  });

export function mutate<T>(doc: T, mutations: Mutation[], targets?: Array<Array<string | number>>): T {
  const copy = structuredClone(doc) as unknown;
  for (const m of mutations) {
    const all = targets ?? paths(copy).filter((p) => p.length > 0);
    const path = all[m.pick % Math.max(all.length, 1)];
    if (!path) continue;
    const parent = path.slice(0, -1).reduce<unknown>((node, k) => (node as Record<string | number, unknown> | undefined)?.[k], copy);
    if (parent === null || typeof parent !== 'object') continue;
    const last = path.at(-1)!;
    const p = parent as Record<string | number, unknown>;
    if (m.kind === 'drop') {
      if (Array.isArray(p)) p.splice(Number(last), 1);
      else delete p[last];
    } else if (m.kind === 'set') {
      p[last] = m.value;
    } else if (!Array.isArray(p)) {
      Object.defineProperty(p, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    }
  }
  return copy as T;
}

/** Text mutations: what no generated object can hold (aliases, duplicates, cuts, bytes). */
export const textMutation = (): fc.Arbitrary<(text: string) => string> =>
  fc.oneof(
    fc.constant((t: string) => `${ALIAS_BOMB}${t}`),
    fc.constant((t: string) => `${t}${ALIAS_BOMB}`),
    fc.constant((t: string) => `self: &self [*self]\n${t}`),
    fc.constant((t: string) => `${t}\nagentVars: &loop { nomad_x: *loop }\n`),
    fc.constant((t: string) => `${t}\nname: *nope\n`),
    // Many aliases of one anchor: the yaml package resolves each by walking the document (quadratic).
    fc.integer({ min: 90, max: 5_000 }).map((n) => (t: string) => `${t}\nanchor: &many x\nmany: [${Array(n).fill('*many').join(', ')}]\n`),
    fc.constant((t: string) => `${t}\n${t.split('\n')[0] ?? ''}\n`),
    fc.constant((t: string) => `\ufeff${t}`),
    fc.constant((t: string) => t.replace(/\n/g, '\r\n')),
    fc.constant((t: string) => `${t}\n---\nname: second\n`),
    fc.constant((t: string) => `${t}\n? [a, b]\n: complex key\n`),
    fc.constant((t: string) => `${t}\nextra: !!binary aGVsbG8=\n`),
    fc.integer({ min: 1, max: 5_000 }).map((n) => (t: string) => `${t}\ndeep: ${'['.repeat(n)}${n % 2 ? ']'.repeat(n) : ''}\n`),
    fc.integer({ min: 1, max: 300 }).map((n) => (t: string) => `${t}\n${Array.from({ length: n }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} x\n`),
    fc.tuple(fc.nat(), fc.string({ unit: 'binary', maxLength: 8 })).map(
      ([at, s]) =>
        (t: string) =>
          t.slice(0, at % (t.length + 1)) + s + t.slice(at % (t.length + 1)),
    ),
    fc.nat().map((at) => (t: string) => t.slice(0, at % (t.length + 1))),
  );

/** `arb` in one case of `every`, else undefined. */
export const sometimes = <T>(arb: fc.Arbitrary<T>, every: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: every - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

/** The classic "billion laughs": nine levels of nine aliases each. */
export const ALIAS_BOMB = (() => {
  let s = 'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
  for (let i = 1; i <= 9; i++) s += `a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(', ')}]\n`;
  return s;
})();

/** YAML's punctuation and a few of the files' words: random text that the parser gets further into. */
const YAML_TOKENS = [
  '{',
  '}',
  '[',
  ']',
  ':',
  ': ',
  ', ',
  '- ',
  '\n',
  '\n  ',
  '  ',
  '\t',
  '&a ',
  '*a',
  '&b ',
  '*b',
  '!!str ',
  '!!binary ',
  '!x ',
  '"',
  "'",
  '# ',
  '|',
  '>-',
  '? ',
  '---',
  '...',
  '%YAML 1.2\n',
  '<<: ',
  '~',
  'null',
  'true',
  '1',
  '-1',
  '1e9',
  '.inf',
  '0x1F',
  'name',
  'servers',
  'clients',
  'steps',
  'job',
  'id',
  'file',
  'do',
  'run_job',
  'dc1',
  'a;b',
  '$(id)',
  '../',
  '\u0000',
  '\ufeff',
];

/** Arbitrary text and bytes, the first family of inputs, and random runs of YAML's tokens. */
export const arbitraryText = (): fc.Arbitrary<string | Uint8Array> =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength: 400 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 400 }),
    fc.uint8Array({ maxLength: 400 }),
    fc.array(fc.constantFrom(...YAML_TOKENS), { maxLength: 120 }).map((t) => t.join('')),
    fc.array(fc.constantFrom(...YAML_TOKENS), { maxLength: 120 }).map((t) => t.join('')),
  );

/** How many lines a file has, as the loaders count them (the line after a final newline counts). */
export const lineCount = (data: string | Uint8Array): number => (typeof data === 'string' ? data : Buffer.from(data).toString('utf8')).split('\n').length;

/**
 * The property of a loader's refusal: a UsageError (InvalidFileError is one), every line of its
 * message `<file>:<line>: ...` with a line inside the file, no stack trace.
 */
export function expectFileRefusal(error: unknown, file: string, lines: number): string {
  if (!(error instanceof UsageError)) throw new Error(`not a UsageError: ${error instanceof Error ? error.stack : String(error)}`);
  const prefix = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+): \\S`);
  for (const line of error.message.split('\n')) {
    const m = prefix.exec(line);
    if (!m) throw new Error(`a message line is not "<file>:<line>: ...": ${JSON.stringify(line.slice(0, 200))}`);
    const n = Number(m[1]);
    if (n < 1 || n > lines) throw new Error(`line ${n} is outside the file's ${lines} line(s): ${JSON.stringify(line.slice(0, 200))}`);
  }
  expect(error.message).not.toMatch(/\n\s+at /);
  return refusalKind(error.message);
}

/** What kind of refusal a message is, for the summary: its first problem's message, without values. */
const refusalKind = (message: string): string =>
  `refused: ${(message.split('\n')[0] ?? '')
    .replace(/^.*?:\d+: (\S+ )?/, '')
    .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
    .replace(/\d+/g, 'N')
    .slice(0, 60)}`;

/** A refusal of a flag or a plan: a UsageError of one line, no control characters (hostile values are quoted and escaped). */
export function expectUsageRefusal(error: unknown): string {
  if (!(error instanceof UsageError)) throw new Error(`not a UsageError: ${error instanceof Error ? error.stack : String(error)}`);
  // eslint-disable-next-line no-control-regex
  expect(error.message).not.toMatch(/[\u0000-\u001f\u007f\u2028\u2029]/);
  return refusalKind(`x:1: ${error.message}`);
}

/**
 * Runs a property with the shared seed, and prints what it did: cases, seed, time, the slowest case,
 * and how the cases ended (`check` returns "loaded" or the kind of refusal).
 */
export function fuzz<T>(what: string, arb: fc.Arbitrary<T>, check: (value: T) => string, numRuns: number): void {
  let slowest = 0;
  const outcomes = new Map<string, number>();
  const started = performance.now();
  fc.assert(
    fc.property(arb, (value) => {
      const t = performance.now();
      const outcome = check(value);
      slowest = Math.max(slowest, performance.now() - t);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }),
    { seed: SEED, numRuns },
  );
  const ms = performance.now() - started;
  const top = [...outcomes].sort((a, b) => b[1] - a[1]).slice(0, 8);
  console.log(
    `fuzz ${what}: ${numRuns} cases, seed ${SEED}, ${(ms / 1000).toFixed(2)} s, slowest case ${slowest.toFixed(0)} ms\n` +
      top.map(([k, n]) => `  ${String(n).padStart(5)}  ${k}`).join('\n'),
  );
  // A case that takes seconds is a hang in the making (an alias bomb, a regular expression that backtracks).
  expect(slowest).toBeLessThan(3000);
}
