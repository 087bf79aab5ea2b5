// Parses Prometheus text exposition (what /v1/metrics?format=prometheus returns). Pure.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = Number(m[3]);
    if (!Number.isNaN(value) || m[3] === 'NaN') samples.push({ name: m[1]!, labels, value });
  }
  return samples;
}

/** Nomad's dotted metric name as Prometheus spells it: nomad.nomad.job_summary.unknown -> nomad_nomad_job_summary_unknown. */
export const promName = (dotted: string): string => dotted.replace(/[.-]/g, '_');
