// Unit: pseudo-terminals (harness/exec/pty.ts) on real short-lived processes: the captured screen is
// what a terminal shows (rewrites, cursor moves and colours applied), at the size asked for; timeouts
// and aborts; a child driven by keystrokes. And the environment of a Nomad capture (capture.ts).
import { describe, expect, it } from 'vitest';
import { captureScreen, openPty } from '../../harness/exec/pty.ts';
import { captureEnv } from '../../harness/scenario/capture.ts';

const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', TERM: 'xterm-256color', HOME: '/tmp' };
const sh = (script: string, size = { cols: 40, rows: 6 }) => captureScreen(['bash', '--norc', '-c', script], { env, ...size, timeoutMs: 10_000 });

describe('captureScreen', () => {
  it('returns the screen a person would read: carriage-return rewrites, cursor moves and colours applied', async () => {
    const shot = await sh(String.raw`printf 'fetching 10%%\r\033[Kdone\n'; printf 'abc\033[2Dx\n'; printf '\033[1;31mred\033[0m plain\n'; exit 3`);
    expect(shot.text).toBe('done\naxc\nred plain');
    expect(shot.exitCode).toBe(3);
    expect(shot.timedOut).toBe(false);
  });

  it('runs the child on a terminal of the size asked for; what scrolled off is counted and kept apart', async () => {
    const shot = await sh(String.raw`test -t 1 && stty size; seq 1 8; printf '%050d\n' 7`, { cols: 40, rows: 6 });
    // "6 40", 1..8, 50 characters wrapped over two rows, and the empty row the cursor ends on: 12
    // rows, the last 6 visible (the empty one trimmed from the text).
    expect(shot.all.split('\n')).toEqual(['6 40', '1', '2', '3', '4', '5', '6', '7', '8', '0'.repeat(40), `${'0'.repeat(9)}7`]);
    expect(shot.scrolledOff).toBe(6);
    expect(shot.text.split('\n')).toEqual(['6', '7', '8', '0'.repeat(40), `${'0'.repeat(9)}7`]);
  });

  it('answers terminal queries as a terminal does (a program asking for the cursor position gets it)', async () => {
    const shot = await sh('printf "ab\\033[6n"; IFS= read -rs -d R -t 5 answer; echo; echo "cursor=${answer#*[}"');
    expect(shot.text).toBe('ab\ncursor=1;3');
  });

  it('clears the screen as a terminal does', async () => {
    const shot = await sh(String.raw`echo old; printf '\033[2J\033[Hnew\n'`);
    expect(shot.text).toBe('new');
  });

  it('kills a command that outlives its timeout and says so', async () => {
    const started = Date.now();
    const shot = await captureScreen(['bash', '--norc', '-c', 'echo started; sleep 30'], { env, cols: 40, rows: 4, timeoutMs: 500 });
    expect(shot).toMatchObject({ timedOut: true, exitCode: 137, signal: 9, text: 'started' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('stops at once when the run is interrupted, with the interruption as the error', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('SIGINT')), 200);
    await expect(captureScreen(['sleep', '30'], { env, cols: 40, rows: 4, timeoutMs: 20_000, signal: controller.signal })).rejects.toThrow('SIGINT');
  });
});

describe('a child driven on a pseudo-terminal', () => {
  it('reads keystrokes, shows its output on the screen, and reports its exit code', async () => {
    const session = openPty(['bash', '--norc', '--noprofile'], { env: { ...env, PS1: 'lab> ' }, cols: 60, rows: 10 });
    try {
      await session.waitFor(/^lab> $/m, 10_000);
      session.write('echo $((6 * 7)) && tty\r');
      await session.waitFor(/^42\n\/dev\/pts\/\d+$/m, 10_000);
      session.write('exit 5\r');
      expect(await session.exited).toEqual({ exitCode: 5, signal: undefined });
    } finally {
      session.kill();
      session.dispose();
    }
  });

  it('a wait that times out shows what the screen held', async () => {
    const session = openPty(['bash', '--norc', '--noprofile'], { env: { ...env, PS1: 'lab> ' }, cols: 60, rows: 10 });
    try {
      await expect(session.waitFor(/never printed/, 500)).rejects.toThrow(
        /timed out after \ds waiting for \/never printed\/ on the terminal of bash; last seen: screen:\nlab> /,
      );
    } finally {
      session.kill();
      await session.exited;
      session.dispose();
    }
  });
});

describe('the environment of a Nomad capture', () => {
  it('holds the lab address and the token, a known terminal, and nothing of the harness own Nomad or proxy settings', () => {
    const base = {
      PATH: '/usr/bin',
      HOME: '/root',
      TZ: 'UTC',
      NOMAD_ADDR: 'http://prod:4646',
      NOMAD_TOKEN: 'prod-secret',
      NOMAD_NAMESPACE: 'x',
      http_proxy: 'http://proxy:3128',
      HTTPS_PROXY: 'http://proxy:3128',
      SECRET: 's',
    };
    expect(captureEnv('http://198.19.97.11:4646', 'lab-token', base)).toEqual({
      PATH: '/usr/bin',
      HOME: '/root',
      TZ: 'UTC',
      TERM: 'xterm-256color',
      NOMAD_ADDR: 'http://198.19.97.11:4646',
      NOMAD_TOKEN: 'lab-token',
    });
    expect(captureEnv('http://198.19.97.11:4646', undefined, base)).not.toHaveProperty('NOMAD_TOKEN');
  });
});
