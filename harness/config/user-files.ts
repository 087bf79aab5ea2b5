// Files users write: parsed with `yaml`, validated with `ajv` (all errors, strict), every problem
// reported as `file:line: /json/pointer message`. The one place both packages are imported.
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { UsageError } from '../util/errors.ts';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, discriminator: true, verbose: true });
const compiled = new Map<object, ValidateFunction>();

export interface Problem {
  file: string;
  line: number;
  pointer: string;
  message: string;
}

export class InvalidFileError extends UsageError {
  constructor(readonly problems: Problem[]) {
    super(problems.map((p) => `${p.file}:${p.line}: ${p.pointer || '/'} ${p.message}`).join('\n'));
    this.name = 'InvalidFileError';
  }
}

/** Reads and validates a YAML (or JSON) file against a JSON Schema; returns the plain data. */
export function loadUserFile<T>(file: string, schema: object): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new UsageError(`cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`);
  }
  return parseUserText<T>(file, text, schema);
}

export function parseUserText<T>(file: string, text: string, schema: object): T {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new InvalidFileError(doc.errors.map((e) => ({ file, line: e.linePos?.[0]?.line ?? 1, pointer: '', message: e.message.split('\n')[0] ?? e.message })));
  }
  const data: unknown = doc.toJS();
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (!validate(data)) {
    throw new InvalidFileError((validate.errors ?? []).map((e) => problemOf(file, doc, lines, e)));
  }
  return data as T;
}

function problemOf(file: string, doc: Document, lines: LineCounter, e: ErrorObject): Problem {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let pointer = e.instancePath;
  let message = e.message ?? 'is invalid';
  if (e.keyword === 'additionalProperties') {
    const extra = String((e.params as { additionalProperty: string }).additionalProperty);
    path.push(extra);
    pointer = `${e.instancePath}/${extra}`;
    message = 'is not a known property';
  } else if (e.keyword === 'enum') {
    message = `must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
  } else if (e.keyword === 'discriminator') {
    const { tag, tagValue } = e.params as { tag: string; tagValue: unknown };
    const branches = (e.parentSchema as { oneOf?: Array<{ properties?: Record<string, { const?: string; enum?: string[] }> }> } | undefined)?.oneOf ?? [];
    const known = branches.flatMap((b) => {
      const p = b.properties?.[tag];
      return p?.const !== undefined ? [p.const] : (p?.enum ?? []);
    });
    message = `${tag}: ${JSON.stringify(tagValue)} is not known${known.length ? `; one of: ${known.join(', ')}` : ''}`;
  } else if (e.keyword === 'propertyNames') {
    message = `property name ${JSON.stringify((e.params as { propertyName: string }).propertyName)} ${message}`;
  }
  return { file, line: lineOf(doc, lines, path), pointer, message };
}

/** The line of the deepest node on `path` that exists. */
function lineOf(doc: Document, lines: LineCounter, path: string[]): number {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return 1;
}
