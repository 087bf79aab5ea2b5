// Unit: error messages lead with the cause and name the host, the command and the fix.
import { describe, expect, it } from 'vitest';
import { describeError, HarnessError, showCommand } from '../../harness/util/errors.ts';
import { run } from '../../harness/exec/local.ts';

describe('errors', () => {
  it('names host, command and fix', () => {
    const text = describeError(
      new HarnessError('command failed (exit code 1)', {
        host: 'client1',
        command: ['iptables', '-D', 'INPUT', '-s', '198.18.1.11', '-j', 'DROP'],
        hint: 'check the rule',
      }),
    );
    expect(text).toBe('client1: command failed (exit code 1)\n  command: iptables -D INPUT -s 198.18.1.11 -j DROP\n  fix: check the rule');
  });
  it('quotes arguments a reader could misread', () => {
    expect(showCommand(['echo', 'a b', '$HOME'])).toBe('echo "a b" "$HOME"');
  });
  it('turns a failing local command into an error with its stderr', async () => {
    await expect(run(['ls', '/definitely/not/here'], { host: 'server1' })).rejects.toThrow(/exit code 2[\s\S]*No such file/);
    const r = await run(['ls', '/definitely/not/here'], { check: false });
    expect(r.exitCode).toBe(2);
  });
});
