// `lab status` as text for a terminal: a head (what the lab is, which Nomad) and a table of hosts.
// Pure: from the status each provider reads.
import { table } from '../util/table.ts';
import type { LabStatus } from './netns-lab.ts';
import type { RemoteLabStatus } from './ssh-lab.ts';

export function formatStatus(s: LabStatus): string {
  const head = [
    `lab ${s.name} (id ${s.id}, netns provider): ${s.phase}${s.persistent ? '' : ', owned by a running command'}, since ${s.createdAt}`,
    `subnet ${s.subnet} on bridge ${s.bridge}; Nomad ${s.nomadVersionReported ?? s.nomad.version} from ${s.nomad.path} (${s.nomad.source})`,
  ];
  if (s.inventory) head.push(`SSH-reachable hosts (sshd, no agents of the lab's own); inventory: ${s.inventory}`);
  if (s.apiError && !s.inventory) head.push(`API: ${s.apiError}`);
  const rows = [['HOST', 'ROLE', 'DC', 'ADDRESS', 'NETNS', 'PID', s.inventory ? 'SSHD' : 'AGENT', 'NODE ID', 'STATUS']];
  for (const h of s.hosts) {
    rows.push([
      h.name,
      h.role,
      h.datacenter + (h.nodeDatacenter !== undefined && h.nodeDatacenter !== h.datacenter ? ` (Nomad says ${h.nodeDatacenter})` : ''),
      h.ip,
      h.netns + (h.agent === 'running' && !h.netnsOk ? ' (MISMATCH)' : ''),
      String(h.pid ?? '-'),
      h.agent,
      h.nodeId?.slice(0, 8) ?? '-',
      h.status ?? '-',
    ]);
  }
  return [...head, ...table(rows)].join('\n');
}

export function formatRemoteStatus(status: RemoteLabStatus): string {
  const head = [
    `lab ${status.name} (${status.provider} provider: ${status.source}): ${status.phase}${status.tls ? ', with TLS' : ''}${status.persistent ? '' : ', owned by a running command'}, since ${status.createdAt}`,
    `Nomad ${status.nomadVersionReported ?? status.nomad.version} (${status.nomad.path} provisioned from here when the lab came up)`,
  ];
  if (status.apiError) head.push(`API: ${status.apiError}`);
  const rows = [['HOST', 'ROLE', 'DC', 'ADDRESS', 'SSH', 'MANAGER', 'AGENT', 'NODE ID', 'STATUS']];
  for (const h of status.hosts) rows.push([h.name, h.role, h.datacenter, h.ip, h.ssh, h.manager, h.agent, h.nodeId?.slice(0, 8) ?? '-', h.status ?? '-']);
  return [...head, ...table(rows)].join('\n');
}
