// Unit: util/table.ts, the harness's one plain-text table.
import { describe, expect, it } from 'vitest';
import { table } from '../../harness/util/table.ts';

describe('table', () => {
  it('sizes each column to its widest cell, two spaces apart, with no trailing spaces', () => {
    expect(
      table([
        ['HOST', 'ROLE', 'STATUS'],
        ['server1', 'server', ''],
        ['client10', 'client', 'ready'],
      ]),
    ).toEqual(['HOST      ROLE    STATUS', 'server1   server', 'client10  client  ready']);
  });

  it('right-aligns the columns asked for', () => {
    expect(
      table(
        [
          ['deploy', '3.25s', '(bound 5s)'],
          ['reconnect', '12.00s', ''],
          ['heal', '-', ''],
        ],
        { align: [undefined, 'right'] },
      ),
    ).toEqual(['deploy      3.25s  (bound 5s)', 'reconnect  12.00s', 'heal            -']);
  });

  it('takes ragged rows, and no rows', () => {
    expect(table([['a', 'b', 'c'], ['long']])).toEqual(['a     b  c', 'long']);
    expect(table([])).toEqual([]);
  });

  it('gives a coloured cell the width of its text', () => {
    expect(
      table([
        ['\x1b[32mPASS\x1b[39m', 'x'],
        ['UNKNOWN', 'y'],
      ]),
    ).toEqual(['\x1b[32mPASS\x1b[39m     x', 'UNKNOWN  y']);
  });
});
