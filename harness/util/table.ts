// The one plain-text table of the harness: each column as wide as its widest cell, two spaces between
// columns, no trailing spaces. Colour escapes in a cell take no width.

export interface TableOptions {
  /** Per column, by index; a column not named is left-aligned. Right-align numbers so their units line up. */
  align?: ReadonlyArray<'left' | 'right' | undefined>;
}

// SGR sequences only (what util/colour.ts writes): they change the look of a cell, not its width.
const SGR = /\x1b\[[0-9;]*m/g;
const width = (cell: string): number => cell.replace(SGR, '').length;

/** The rows as lines, header included if the caller passes one. Rows may be ragged: a missing cell is empty. */
export function table(rows: readonly (readonly string[])[], options: TableOptions = {}): string[] {
  const columns = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...rows.map((r) => width(r[i] ?? ''))));
  return rows.map((row) =>
    widths
      .map((w, i) => {
        const cell = row[i] ?? '';
        const fill = ' '.repeat(w - width(cell));
        return options.align?.[i] === 'right' ? fill + cell : cell + fill;
      })
      .join('  ')
      .trimEnd(),
  );
}
