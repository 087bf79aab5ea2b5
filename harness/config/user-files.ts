// Files users write: parsed with `yaml`, validated with `ajv` (all errors, strict), every problem
// reported as `file:line: /json/pointer message`. The one place both packages are imported.
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { LineCounter, parseDocument, isAlias, isCollection, isMap, isNode, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';
import { UsageError } from '../util/errors.ts';
import { escapeControls, kindOfSchema, nameProblem, namesSchema, showValue } from './names.ts';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, discriminator: true, verbose: true });
// The name patterns (names.ts), which the schemas refer to as names.schema.json#/definitions/<kind>.
ajv.addSchema(namesSchema());
const compiled = new Map<object, ValidateFunction>();

/** A user file is a few kilobytes; a bigger one is refused before the parser spends time or memory on it. */
export const MAX_FILE_BYTES = 1024 * 1024;
/** Deeper nesting than any user file needs; the parser and toJS recurse, so depth is bounded before they run. */
export const MAX_DEPTH = 64;
/** How many nodes YAML aliases may expand to (the `yaml` package's guard against alias bombs; its default). */
export const MAX_ALIAS_COUNT = 100;

export interface Problem {
  file: string;
  line: number;
  pointer: string;
  message: string;
}

export class InvalidFileError extends UsageError {
  constructor(readonly problems: Problem[]) {
    // One line per problem, whatever the file held: keys and values are shown with control characters escaped.
    super(problems.map((p) => `${p.file}:${p.line}: ${escapeControls(p.pointer || '/')} ${escapeControls(p.message)}`).join('\n'));
    this.name = 'InvalidFileError';
  }
}

/** A validated user file: its data, and the line of what a JSON pointer names (for checks after the schema). */
export interface UserDocument<T> {
  data: T;
  /** The line of the node `pointer` names; a pointer to a missing key gives its nearest existing parent's line. */
  lineOf(pointer: string): number;
}

/** Reads and validates a YAML (or JSON) file against a JSON Schema; returns the plain data. */
export function loadUserFile<T>(file: string, schema: object): T {
  return loadUserDocument<T>(file, schema).data;
}

/** loadUserFile, with the lines of its nodes for the checks a schema cannot say. */
export function loadUserDocument<T>(file: string, schema: object): UserDocument<T> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new UsageError(`cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`);
  }
  return parseUserDocument<T>(file, text, schema);
}

export function parseUserText<T>(file: string, text: string, schema: object): T {
  return parseUserDocument<T>(file, text, schema).data;
}

export function parseUserDocument<T>(file: string, text: string, schema: object): UserDocument<T> {
  const fail = (line: number, message: string, pointer = ''): never => {
    throw new InvalidFileError([{ file, line, pointer, message }]);
  };
  if (text.length > MAX_FILE_BYTES) fail(1, `is ${text.length} characters long; a user file holds at most ${MAX_FILE_BYTES}`);
  const lines = new LineCounter();
  const lastLine = text.split('\n').length;
  const lineAt = (offset: number | undefined): number => (offset === undefined ? 1 : Math.min(Math.max(lines.linePos(offset).line, 1), lastLine));
  // Known tags (!!binary, !!set, !!timestamp) would make Buffers, Sets and Dates where the schemas expect
  // plain data; unresolved, they stay strings. Warnings are not printed on the terminal.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, resolveKnownTags: false, logLevel: 'silent', uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InvalidFileError(
      doc.errors.map((e) => ({ file, line: Math.min(e.linePos?.[0]?.line ?? 1, lastLine), pointer: '', message: firstLine(e.message) })),
    );
  }
  const structural = structureProblems(doc, (n) => lineAt(n.range?.[0]));
  if (structural.length > 0) throw new InvalidFileError(structural.map((p) => ({ file, ...p })));
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (cause) {
    // What is left to fail here is the alias guard (maxAliasCount): an alias bomb, or many aliases of big anchors.
    const why = firstLine(cause instanceof Error ? cause.message : String(cause));
    fail(1, /alias/i.test(why) ? `expands its YAML aliases into too many nodes (${why}); write the values out instead` : `cannot be read as data: ${why}`);
  }
  const lineOf = (pointer: string) => lineOfPath(doc, pointerPath(pointer), lineAt);
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map((e) => problemOf(file, lineOf, e));
    // A name that breaks both its length and its pattern is one problem, said once.
    const seen = new Set<string>();
    throw new InvalidFileError(problems.filter((p) => !seen.has(`${p.line} ${p.pointer} ${p.message}`) && seen.add(`${p.line} ${p.pointer} ${p.message}`)));
  }
  return { data: data as T, lineOf };
}

const firstLine = (message: string): string => message.split('\n')[0] ?? message;

/**
 * What a schema cannot see because toJS would already have failed, hung or made a graph of it:
 * nesting deeper than MAX_DEPTH, more than MAX_ALIAS_COUNT aliases (the `yaml` package finds each
 * alias's anchor by walking the whole document, so many aliases take quadratic time), keys that are
 * collections (toJS turns them into strings), an alias with no anchor before it, and an alias inside
 * the collection it names (toJS makes that a cycle). One walk in document order, without recursion,
 * so a deep document cannot exhaust the stack here.
 */
function structureProblems(doc: Document, lineOf: (node: Node) => number): Array<Omit<Problem, 'file'>> {
  const problems: Array<Omit<Problem, 'file'>> = [];
  interface Entry {
    node: unknown;
    depth: number;
    parent: Entry | undefined;
    /** A map's key: it may be an alias or a scalar, never a collection. */
    isKey?: boolean;
  }
  // The anchors defined so far: an alias names the last one of its name before it, as YAML says.
  const anchors = new Map<string, unknown>();
  let aliases = 0;
  const stack: Entry[] = [{ node: doc.contents, depth: 0, parent: undefined }];
  while (stack.length > 0 && problems.length < 20) {
    const entry = stack.pop()!;
    const { node, depth } = entry;
    if (isAlias(node)) {
      aliases += 1;
      if (aliases > MAX_ALIAS_COUNT) {
        problems.push({ line: lineOf(node), pointer: '', message: `uses more than ${MAX_ALIAS_COUNT} YAML aliases; write the values out instead` });
        break;
      }
      const target = anchors.get(node.source);
      if (target === undefined) {
        problems.push({ line: lineOf(node), pointer: '', message: `alias *${node.source} names no anchor &${node.source} defined before it` });
      } else if (entry.isKey && isCollection(target)) {
        problems.push({ line: lineOf(node), pointer: '', message: 'has a key that is a collection; keys are plain values' });
      } else {
        for (let up = entry.parent; up; up = up.parent) {
          if (up.node === target) {
            problems.push({ line: lineOf(node), pointer: '', message: `alias *${node.source} lies inside the collection &${node.source} it names (a cycle)` });
            break;
          }
        }
      }
      continue;
    }
    if (isNode(node) && node.anchor) anchors.set(node.anchor, node);
    if (!isCollection(node)) continue;
    if (entry.isKey) {
      problems.push({ line: lineOf(node), pointer: '', message: 'has a key that is a collection; keys are plain values' });
      continue;
    }
    if (depth >= MAX_DEPTH) {
      problems.push({ line: lineOf(node), pointer: '', message: `nests collections more than ${MAX_DEPTH} deep` });
      continue;
    }
    // Pushed last to first, so that they come off the stack in document order (a key before its value).
    const children: Entry[] = [];
    for (const item of node.items) {
      if (isPair(item)) {
        children.push({ node: item.key, depth: depth + 1, parent: entry, isKey: true });
        children.push({ node: item.value, depth: depth + 1, parent: entry });
      } else {
        children.push({ node: item, depth: depth + 1, parent: entry });
      }
    }
    for (let k = children.length - 1; k >= 0; k--) stack.push(children[k]!);
  }
  return problems;
}

/**
 * Every map key of a YAML text with its path and line, for files another program reads (an Ansible
 * inventory, which `ansible-inventory` turns into JSON without lines): undefined when the text is
 * not a YAML mapping. Never throws; big or deep texts give what lies within the limits.
 */
export function yamlKeyLines(text: string): Array<{ path: string[]; line: number }> | undefined {
  if (text.length > MAX_FILE_BYTES) return undefined;
  const lines = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, resolveKnownTags: false, logLevel: 'silent', uniqueKeys: false });
  } catch {
    return undefined;
  }
  if (doc.errors.length > 0 || !isMap(doc.contents)) return undefined;
  const out: Array<{ path: string[]; line: number }> = [];
  const stack: Array<{ node: unknown; path: string[] }> = [{ node: doc.contents, path: [] }];
  while (stack.length > 0 && out.length < 100_000) {
    const { node, path } = stack.pop()!;
    if (!isMap(node) || path.length >= MAX_DEPTH) continue;
    for (const pair of node.items) {
      const key = keyName(pair.key);
      if (key === undefined || !isNode(pair.key) || !pair.key.range) continue;
      out.push({ path: [...path, key], line: lines.linePos(pair.key.range[0]).line });
      stack.push({ node: pair.value, path: [...path, key] });
    }
  }
  return out;
}

/** A JSON pointer's path (`/a/b~1c` -> ["a", "b/c"]). */
function pointerPath(pointer: string): string[] {
  return pointer === ''
    ? []
    : pointer
        .split('/')
        .slice(1)
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** A map key as toJS names it. */
const keyName = (key: unknown): string | undefined => (isScalar(key) ? (key.value === null ? '' : String(key.value)) : undefined);

/**
 * The line of the deepest node on `path` that exists: of its key for a map entry (where a reader looks
 * for `expect:`, also when the value is a block on the lines below), of its item for a sequence entry.
 */
function lineOfPath(doc: Document, path: string[], lineAt: (offset: number | undefined) => number): number {
  let node: unknown = doc.contents;
  let line = isNode(node) ? lineAt(node.range?.[0]) : 1;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => keyName(p.key) === segment);
      if (!pair) break;
      if (isNode(pair.key) && pair.key.range) line = lineAt(pair.key.range[0]);
      node = pair.value;
    } else if (isSeq(node)) {
      const index = /^\d+$/.test(segment) ? Number(segment) : -1;
      const item: unknown = node.items[index];
      if (!isNode(item)) break;
      if (item.range) line = lineAt(item.range[0]);
      node = item;
    } else {
      break;
    }
  }
  return line;
}

function problemOf(file: string, lineOf: (pointer: string) => number, e: ErrorObject): Problem {
  let pointer = e.instancePath;
  // The node the line is taken from: the value's, or for a bad key the key's own.
  let linePointer = e.instancePath;
  let message = e.message ?? 'is invalid';
  const kind = kindOfSchema(e.schemaPath);
  if (kind !== undefined && (e.keyword === 'pattern' || e.keyword === 'maxLength' || e.keyword === 'minLength')) {
    message = `${showValue(e.data)}: ${nameProblem(kind, e.data) ?? 'is invalid'}`;
  } else if (e.keyword === 'additionalProperties') {
    const extra = String((e.params as { additionalProperty: string }).additionalProperty);
    pointer = `${e.instancePath}/${escapePointer(extra)}`;
    linePointer = pointer;
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
    const shown = typeof tagValue === 'string' ? showValue(tagValue) : String(JSON.stringify(tagValue));
    message = `${tag}: ${shown} is not known${known.length ? `; one of: ${known.join(', ')}` : ''}`;
  } else if (e.keyword === 'propertyNames') {
    const name = (e.params as { propertyName: string }).propertyName;
    linePointer = `${e.instancePath}/${escapePointer(name)}`;
    message = `property name ${showValue(name)} ${message}`;
  }
  return { file, line: lineOf(linePointer), pointer, message };
}

const escapePointer = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');
