// The names that reach a shell, an iptables rule, a file path or a Nomad API URL: one pattern and one
// length limit per kind of name, used by the JSON Schemas (as names.schema.json, which user-files.ts
// registers) and by the code that takes a name from a flag or the environment.

/** Every kind of name a user gives that the harness passes on to a command, a path or Nomad. */
export type NameKind = 'lab' | 'scenario' | 'host' | 'job' | 'jobFile' | 'task' | 'datacenter' | 'region';

export interface NameRule {
  /** How a message names one: "a lab name". */
  what: string;
  /** The whole rule, anchored; the JSON Schemas use its source. */
  pattern: RegExp;
  /** The longest allowed, also in the pattern; in the schema so a long value gets a length message. */
  max: number;
  /** The rule in words: "1-32 of [a-z0-9-], starting with a letter or digit". */
  rule: string;
}

// Why each limit:
// - lab: a lab's directory (<lab root>/labs/<name>) and its state. Namespaces, links and iptables tags
//   use the hashed lab id (topology.ts: nl<5 hex>-c200 stays within IFNAMSIZ), so the name's length
//   is free; 32 keeps paths and unix sockets under the lab directory short. A leading "-" would read
//   as an option to a command, so the first character is a letter or digit (names made before this
//   module could start with a digit, and still can).
// - scenario: reports/<scenario>/ and the scenario's lab, sc-<scenario>, which must be a lab name.
// - host: an inventory host name is the Nomad node name, a log file name (<host>.log) and an SSH
//   target; Linux's HOST_NAME_MAX is 64. No "/" and no leading "." or "-", so never a path or an option.
// - job: the job ID in Nomad API URLs and in a run's reports; a run on a shared lab appends -xxxx.
// - jobFile: a file in jobs/, never a path out of it.
// - task: a directory below an allocation's directory (write_file steps).
// - datacenter, region: rendered into the agents' HCL and matched against Nomad's answers.
export const NAMES: Readonly<Record<NameKind, NameRule>> = {
  lab: { what: 'a lab name', pattern: /^[a-z0-9][a-z0-9-]{0,31}$/, max: 32, rule: '1-32 of [a-z0-9-], starting with a letter or digit' },
  scenario: { what: 'a scenario name', pattern: /^[a-z][a-z0-9-]{0,23}$/, max: 24, rule: '1-24 of [a-z0-9-], starting with a letter' },
  host: {
    what: 'a host name',
    pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    max: 64,
    rule: '1-64 of [A-Za-z0-9._-], starting with a letter or digit',
  },
  job: { what: 'a job ID', pattern: /^[a-z][a-z0-9-]{0,63}$/, max: 64, rule: '1-64 of [a-z0-9-], starting with a letter' },
  jobFile: {
    what: 'a job file',
    pattern: /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*\.nomad\.hcl$/,
    max: 128,
    rule: 'a file name in jobs/ ending in .nomad.hcl, at most 128 of [A-Za-z0-9._-], starting with a letter or digit',
  },
  task: { what: 'a task name', pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, max: 64, rule: '1-64 of [A-Za-z0-9._-], starting with a letter or digit' },
  datacenter: { what: 'a datacenter name', pattern: /^[A-Za-z0-9_-]{1,64}$/, max: 64, rule: '1-64 of [A-Za-z0-9_-]' },
  region: { what: 'a region name', pattern: /^[A-Za-z0-9_-]{1,64}$/, max: 64, rule: '1-64 of [A-Za-z0-9_-]' },
};

/** Whether `value` is a valid name of that kind. */
export const isName = (kind: NameKind, value: unknown): value is string =>
  typeof value === 'string' && value.length <= NAMES[kind].max && NAMES[kind].pattern.test(value);

/** A value as a message shows it: quoted, control characters escaped, long ones cut. */
export function showValue(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  const cut = text.length > 64 ? `${text.slice(0, 64)}...` : text;
  return escapeControls(JSON.stringify(cut));
}

/** Control and line-separator characters as \uXXXX, so a message stays on one line. */
export const escapeControls = (text: string): string =>
  // eslint-disable-next-line no-control-regex
  text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** What is wrong with `value` as a name of that kind ("a lab name is ..."), or undefined when it is fine. */
export function nameProblem(kind: NameKind, value: unknown): string | undefined {
  return isName(kind, value) ? undefined : `${NAMES[kind].what} is ${NAMES[kind].rule}`;
}

/**
 * `value` when it is a valid name of that kind, else a UsageError-shaped message through `fail`:
 * `--lab "a;b": a lab name is 1-32 of [a-z0-9-], starting with a letter or digit`. `label` says where
 * the value came from (a flag, an environment variable, "inventory host x: nomad_datacenter").
 */
export function checkName(kind: NameKind, value: string, label: string, fail: (message: string) => Error): string {
  const problem = nameProblem(kind, value);
  if (problem !== undefined) throw fail(`${label} ${showValue(value)}: ${problem}`);
  return value;
}

/** The definitions the JSON Schemas refer to: `{"$ref": "names.schema.json#/definitions/lab"}`. */
export const NAMES_SCHEMA_ID = 'https://nomad-lab.local/schema/names.schema.json';

export function namesSchema(): object {
  return {
    $id: NAMES_SCHEMA_ID,
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'nomad-lab names (generated from harness/config/names.ts)',
    definitions: Object.fromEntries(
      Object.entries(NAMES).map(([kind, r]) => [
        kind,
        { type: 'string', minLength: 1, maxLength: r.max, pattern: r.pattern.source, description: `${r.what}: ${r.rule}` },
      ]),
    ),
  };
}

/** The name kind a schema definition of names.schema.json stands for (ajv reports it as the error's parent schema). */
export function kindOfSchema(schemaPath: string): NameKind | undefined {
  const m = /names\.schema\.json#\/definitions\/(\w+)\//.exec(schemaPath);
  return m && m[1]! in NAMES ? (m[1] as NameKind) : undefined;
}
