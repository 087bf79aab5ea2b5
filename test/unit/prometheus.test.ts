// Unit: Prometheus text as Nomad 1.6.0 serves it on /v1/metrics?format=prometheus.
import { describe, expect, it } from 'vitest';
import { parsePrometheus, promName } from '../../harness/nomad/prometheus.ts';

const text = [
  '# HELP nomad_nomad_job_summary_unknown nomad_nomad_job_summary_unknown',
  '# TYPE nomad_nomad_job_summary_unknown gauge',
  'nomad_nomad_job_summary_unknown{job="spread",namespace="default",task_group="cache"} 1',
  'nomad_nomad_job_summary_running{job="spread",namespace="default",task_group="cache"} 2',
  'nomad_runtime_num_goroutines 123',
  'nomad_nomad_rpc_query{quantile="0.5"} NaN',
  'weird{label="with \\"quote\\""} 3 1700000000000',
].join('\n');

describe('parsePrometheus', () => {
  it('reads names, labels and values, skipping comments', () => {
    const samples = parsePrometheus(text);
    expect(samples[0]).toEqual({ name: 'nomad_nomad_job_summary_unknown', labels: { job: 'spread', namespace: 'default', task_group: 'cache' }, value: 1 });
    expect(samples.find((s) => s.name === 'nomad_runtime_num_goroutines')?.value).toBe(123);
    expect(Number.isNaN(samples.find((s) => s.name === 'nomad_nomad_rpc_query')?.value)).toBe(true);
    expect(samples.find((s) => s.name === 'weird')).toEqual({ name: 'weird', labels: { label: 'with "quote"' }, value: 3 });
  });
  it('spells dotted names the Prometheus way', () => {
    expect(promName('nomad.nomad.job_summary.unknown')).toBe('nomad_nomad_job_summary_unknown');
  });
});
