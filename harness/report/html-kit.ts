// What every HTML page of the reports shares: escaping, the page shell with its inline style (no
// network references), verdict badges and tables. Pure string building.
import type { Verdict } from '../check/checker.ts';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);

/** JSON for a `<script type="application/json">` block: nothing in it can close the tag. */
export const jsonBlock = (id: string, data: unknown): string =>
  `<script type="application/json" id="${esc(id)}">${JSON.stringify(data).replace(/</g, '\\u003c')}</script>`;

export const badge = (v: Verdict | string): string => `<span class="badge ${esc(v)}">${esc(String(v).toUpperCase())}</span>`;

export const seconds = (s: number | undefined): string => (s === undefined ? '–' : `${s.toFixed(2)} s`);

export function table(head: string[], rows: string[][], cls = ''): string {
  return `<table${cls ? ` class="${esc(cls)}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const STYLE = `
:root { --pass: #2e7d43; --fail: #b3261e; --unknown: #8a6d00; --muted: #5f6368; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; background: #f6f7f9; }
main { max-width: 1260px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0; } h2 { font-size: 17px; margin: 28px 0 8px; }
.banner { padding: 14px 18px; border-radius: 8px; color: #fff; display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
.banner.pass { background: var(--pass); } .banner.fail { background: var(--fail); } .banner.unknown { background: var(--unknown); } .banner.not-applicable { background: #9aa0a6; }
.banner .verdict { font-size: 26px; font-weight: 700; letter-spacing: .04em; }
.banner .meta { opacity: .92; }
.badge { display: inline-block; min-width: 4.2em; text-align: center; padding: 1px 6px; border-radius: 4px; color: #fff; font-weight: 600; font-size: 12px; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); } .badge.unknown { background: var(--unknown); } .badge.none, .badge.not-applicable { background: #9aa0a6; }
table { border-collapse: collapse; background: #fff; margin: 4px 0; }
th, td { border: 1px solid #e1e4e8; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.over { color: var(--fail); font-weight: 600; }
.reason { background: #fff; border-left: 4px solid var(--fail); padding: 8px 12px; margin: 6px 0; }
.reason.unknown { border-color: var(--unknown); }
.reason.note { border-color: var(--muted); }
.source, .muted { color: var(--muted); font-size: 12px; }
code, pre { font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, monospace; }
pre { background: #fff; border: 1px solid #e1e4e8; padding: 8px; overflow-x: auto; }
.chart { background: #fff; border: 1px solid #e1e4e8; border-radius: 6px; padding: 6px; position: relative; }
.chart svg { width: 100%; height: auto; display: block; }
.chart svg text { pointer-events: none; }
.legend span { display: inline-flex; align-items: center; gap: 4px; margin-right: 12px; font-size: 12px; }
.legend i { width: 14px; height: 10px; display: inline-block; border-radius: 2px; }
#tip { position: absolute; pointer-events: none; background: #1f2328; color: #fff; padding: 4px 8px; border-radius: 4px; font-size: 12px; display: none; max-width: 420px; white-space: pre-line; }
nav a { margin-right: 12px; }
`;

export function page(title: string, body: string, script = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
${script ? `<script>${script}</script>` : ''}
</body>
</html>
`;
}
