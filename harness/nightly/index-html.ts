// The nightly pages: reports/nightly/<date>/index.html (scenario x Nomad version with verdicts,
// timings and links, the trends against earlier nights, the recent history as a grid) and
// reports/nightly/index.html (every night). Pure string building.
import { badge, esc, page, seconds, table } from '../report/html-kit.ts';
import { worstVerdict, type RunVerdict as Verdict } from '../report/result.ts';
import { differingRows } from './matrix.ts';
import type { NightRecord, Trends } from './trends.ts';

export interface NightPage {
  date: string;
  verdict: Verdict;
  versions: string[];
  tonight: NightRecord[];
  trends: Trends;
  /** History records of the nights shown in the grid (the window), tonight included. */
  history: NightRecord[];
  junit: string;
  summary: string;
}

/** Links in records are relative to reports/nightly/; the night page sits one level down. */
const fromNight = (link: string | undefined) => (link === undefined ? undefined : `../${link}`);

const pct = (x: number) => (Number.isFinite(x) ? `${x > 0 ? '+' : ''}${Math.round(x * 100)} %` : 'new');

const worst = (records: NightRecord[]): Verdict | 'none' => (records.length === 0 ? 'none' : worstVerdict(records.map((r) => r.verdict)));

function trendSection(t: Trends): string {
  const parts: string[] = ['<h2>Trends</h2>'];
  const compared =
    t.previousNights.length === 0
      ? 'no earlier night to compare with'
      : `compared with ${t.previousNights.length} earlier night(s): ${t.previousNights.join(', ')}`;
  parts.push(`<p class="muted">${esc(compared)}</p>`);
  const list = (id: string, heading: string, items: string[]) =>
    items.length === 0 ? '' : `<section id="${id}"><h3>${esc(heading)}</h3><ul>${items.map((i) => `<li>${i}</li>`).join('')}</ul></section>`;
  parts.push(
    list(
      'newly-failing',
      'Newly failing',
      t.newlyFailing.map(
        (x) =>
          `<span class="badge fail">NEW FAILURE</span> <b class="scenario">${esc(x.scenario)}</b> on Nomad ${esc(x.version)}: ${badge(x.verdict)} (last passed: ${esc(x.lastPass)})${x.reason ? `<br><span class="source">${esc(x.reason)}</span>` : ''}`,
      ),
    ),
  );
  parts.push(
    list(
      'still-failing',
      'Still failing',
      t.stillFailing.map((x) => `<b class="scenario">${esc(x.scenario)}</b> on Nomad ${esc(x.version)}: ${badge(x.verdict)} since ${esc(x.since)}`),
    ),
  );
  parts.push(
    list(
      'fixed',
      'Fixed',
      t.fixed.map((x) => `<b class="scenario">${esc(x.scenario)}</b> on Nomad ${esc(x.version)} passes again (failed on ${esc(x.failedOn)})`),
    ),
  );
  parts.push(
    list(
      'flaky',
      'Flaky',
      t.flaky.map(
        (x) =>
          `<b class="scenario">${esc(x.scenario)}</b> on Nomad ${esc(x.version)}: ${x.flips} flip(s): ${x.verdicts.map((v) => `${esc(v.date)} ${badge(v.verdict)}`).join(' ')}`,
      ),
    ),
  );
  parts.push(
    list(
      'moved',
      'Timings that moved',
      t.moved.map(
        (x) =>
          `<b class="scenario">${esc(x.scenario)}</b> on Nomad ${esc(x.version)}: ${esc(x.measure)} ${seconds(x.tonight)} against a baseline of ${seconds(x.baseline)} (${pct(x.change)})`,
      ),
    ),
  );
  if (t.newlyFailing.length + t.stillFailing.length + t.fixed.length + t.flaky.length + t.moved.length === 0)
    parts.push('<p id="no-news">Nothing new: no scenario newly failing, none flaky, no timing moved beyond the threshold.</p>');
  return parts.join('\n');
}

export function renderNightIndex(p: NightPage): string {
  const parts: string[] = [];
  const count = (v: Verdict) => p.tonight.filter((r) => r.verdict === v).length;
  parts.push(`<nav><a href="../index.html">all nights</a></nav>`);
  parts.push(`<div class="banner ${esc(p.verdict)}" id="verdict"><span class="verdict">${esc(p.verdict.toUpperCase())}</span><span><b>nightly ${esc(p.date)}</b></span>
<span class="meta">${p.tonight.length} run(s): ${count('pass')} pass, ${count('fail')} fail, ${count('unknown')} unknown${count('not-applicable') > 0 ? `, ${count('not-applicable')} not applicable` : ''} · Nomad ${p.versions.map(esc).join(', ')}</span></div>`);
  parts.push(trendSection(p.trends));

  parts.push('<h2>Tonight</h2>');
  const scenarios = [...new Set(p.tonight.map((r) => r.scenario))].sort();
  const head = ['scenario', ...p.versions.flatMap((v) => [`Nomad ${v}`, 'wall', 'partition → unknown', 'heal → Reconnected'])];
  const rows = scenarios.map((s) => [
    `<b>${esc(s)}</b>`,
    ...p.versions.flatMap((v) => {
      const runs = p.tonight.filter((r) => r.scenario === s && r.version === v);
      if (runs.length === 0) return ['<span class="badge none">NOT RUN</span>', '', '', ''];
      const verdicts = runs.map((r) => {
        const link = fromNight(r.report);
        return link ? `<a href="${esc(link)}">${badge(r.verdict)}</a>` : badge(r.verdict);
      });
      const list = (f: (r: NightRecord) => number | undefined) => runs.map((r) => seconds(f(r))).join(', ');
      return [verdicts.join(' '), list((r) => r.wallSeconds), list((r) => r.detectSeconds), list((r) => r.reconnectSeconds)];
    }),
  ]);
  parts.push(table(head, rows, 'matrix'));
  if (p.versions.length > 1) {
    const differ = differingRows(p.tonight);
    parts.push(
      `<p class="note" id="differ">${differ.length === 0 ? 'Every scenario has the same verdict on every release.' : `Verdicts differ between releases for ${differ.map((s) => `<b>${esc(s)}</b>`).join(', ')}: each needs a cited explanation (docs/findings.md), a version-keyed expectation or a Nomad bug report.`}</p>`,
    );
  }

  parts.push('<h2>History</h2>');
  const dates = [...new Set(p.history.map((r) => r.date))].sort();
  const keys = [...new Set(p.history.map((r) => `${r.scenario}\u0000${r.version}`))].sort();
  parts.push(
    table(
      ['scenario', 'Nomad', ...dates],
      keys.map((k) => {
        const [scenario, version] = k.split('\u0000') as [string, string];
        return [
          esc(scenario),
          esc(version),
          ...dates.map((d) => {
            const w = worst(p.history.filter((r) => r.date === d && r.scenario === scenario && r.version === version));
            return w === 'none' ? '' : badge(w);
          }),
        ];
      }),
      'history',
    ),
  );
  parts.push(
    `<h2>Files</h2><nav><a href="${esc(p.junit)}">${esc(p.junit)}</a> <a href="${esc(p.summary)}">${esc(p.summary)}</a> <a href="../history.ndjson">history.ndjson</a></nav>`,
  );
  return page(`nightly ${p.date}: ${p.verdict.toUpperCase()}`, parts.join('\n'));
}

export function renderNightsIndex(history: NightRecord[]): string {
  const dates = [...new Set(history.map((r) => r.date))].sort().reverse();
  const rows = dates.map((d) => {
    const night = history.filter((r) => r.date === d);
    const w = worst(night);
    return [
      `<a href="${esc(d)}/index.html">${esc(d)}</a>`,
      badge(w),
      String(night.length),
      String(night.filter((r) => r.verdict !== 'pass').length),
      [...new Set(night.map((r) => r.version))].map(esc).join(', '),
    ];
  });
  return page('nomad-lab nightly runs', `<h1>Nightly runs</h1>\n${table(['night', 'verdict', 'runs', 'not passing', 'Nomad'], rows, 'nights')}`);
}
