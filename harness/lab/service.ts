// What to run on an SSH lab host to kill, pause, resume, start, stop or inspect its Nomad agent,
// per service manager (pure). The role's task files (roles/nomad/tasks/agent-*.yml) do the same.
import type { RemoteHost } from './inventory.ts';

export type ServiceAction = 'kill' | 'pause' | 'resume' | 'start' | 'stop' | 'restart' | 'status' | 'logs';

/** start-stop-daemon finds the agent by pid file AND executable, so a reused pid is never signalled. */
const match = (h: RemoteHost) => ['--pidfile', h.pidFile, '--exec', h.binary];
const daemonStart = (h: RemoteHost) => [
  'start-stop-daemon',
  '--start',
  '--oknodo',
  '--background',
  '--make-pidfile',
  '--output',
  h.logFile,
  ...match(h),
  '--',
  'agent',
  `-config=${h.configDir}`,
];
const daemonStop = (h: RemoteHost) => ['start-stop-daemon', '--stop', '--oknodo', '--retry', 'INT/15/KILL/5', '--remove-pidfile', ...match(h)];
const daemonSignal = (h: RemoteHost, sig: string) => ['start-stop-daemon', '--stop', '--signal', sig, ...match(h)];
// Only the agent's own process: its tasks (in the unit's cgroup) must not get the signal.
// --kill-who: systemd < 252 knows no other spelling; later ones accept it still.
const systemdSignal = (h: RemoteHost, sig: string) => ['systemctl', 'kill', '--kill-who=main', `--signal=${sig}`, `${h.service}.service`];

/** The commands of one action, run in order; status exits 0 only while the agent runs. */
export function serviceArgv(host: RemoteHost, action: ServiceAction): string[][] {
  const unit = `${host.service}.service`;
  if (host.manager === 'systemd') {
    switch (action) {
      case 'kill':
        return [systemdSignal(host, 'SIGKILL')];
      case 'pause':
        return [systemdSignal(host, 'SIGSTOP')];
      case 'resume':
        return [systemdSignal(host, 'SIGCONT')];
      case 'start':
        return [['systemctl', 'start', unit]];
      case 'stop':
        // Only used by teardown, for agents the lab started: they must not come back at the next boot.
        return [['systemctl', 'disable', '--now', unit]];
      case 'restart':
        return [['systemctl', 'restart', unit]];
      case 'status':
        return [['systemctl', 'is-active', '--quiet', unit]];
      case 'logs':
        return [['journalctl', '--unit', unit, '--no-pager', '--output', 'short-iso', '--lines', '20000']];
    }
  }
  switch (action) {
    case 'kill':
      return [daemonSignal(host, 'KILL')];
    case 'pause':
      return [daemonSignal(host, 'STOP')];
    case 'resume':
      return [daemonSignal(host, 'CONT')];
    case 'start':
      return [daemonStart(host)];
    case 'stop':
      return [daemonStop(host)];
    case 'restart':
      return [daemonStop(host), daemonStart(host)];
    case 'status':
      return [['start-stop-daemon', '--status', ...match(host)]];
    case 'logs':
      return [['tail', '-n', '20000', host.logFile]];
  }
}
