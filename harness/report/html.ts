// report.html of one run: verdict and reasons first, then the timeline, phase timings against
// their bounds, every check, the faults as run, terminal captures, what ran (Nomad, lab), and links
// to the raw files. A pure function of the stored result, the timeline, the captures and the list
// of files beside it.
import { SERIES, STATUS_COLOURS, WINDOW_COLOUR } from './chart.ts';
import { badge, esc, jsonBlock, page, seconds, table } from './html-kit.ts';
import type { ScreenEvent } from '../trace/types.ts';
import { showCommand } from '../util/errors.ts';
import type { RunResult } from './result.ts';
import type { Timeline } from './timeline.ts';

export interface RunReportInput {
  result: RunResult;
  timeline: Timeline;
  svg: string;
  /** Files of the run directory to link, relative to it (trace.ndjson, logs/server1.log...). */
  files: string[];
  /** Terminal captures, in trace order. */
  screens?: ScreenEvent[];
}

// Hover details for the chart: maps an element's ECharts series/data index to the timeline's data.
const TOOLTIP = `
(function () {
  var data = JSON.parse(document.getElementById('timeline-data').textContent);
  var tip = document.getElementById('tip'), box = document.querySelector('.chart');
  var S = data.series, tl = data.timeline;
  function describe(s, i) {
    if (s === S.segments) { var g = tl.segments[i]; return tl.lanes[g.lane].label + '\\n' + g.status + (g.desired ? ' (desired ' + g.desired + ')' : '') + '\\n' + g.from + ' s to ' + g.to + ' s, trace line ' + g.line; }
    if (s === S.markers) { var m = tl.markers[i]; return m.type + ' (' + m.task + ') at ' + m.t + ' s\\n' + m.message; }
    return null;
  }
  box.addEventListener('mousemove', function (e) {
    var el = e.target.closest('[ecmeta_series_index]');
    var text = el && describe(Number(el.getAttribute('ecmeta_series_index')), Number(el.getAttribute('ecmeta_data_index')));
    if (!text) { tip.style.display = 'none'; return; }
    var r = box.getBoundingClientRect();
    tip.textContent = text; tip.style.display = 'block';
    tip.style.left = (e.clientX - r.left + 14) + 'px'; tip.style.top = (e.clientY - r.top + 14) + 'px';
  });
  box.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
})();
`;

function legend(tl: Timeline): string {
  const statuses = [...new Set(tl.segments.map((s) => s.status))];
  const items = statuses.map((s) => `<span><i style="background:${STATUS_COLOURS[s] ?? '#888888'}"></i>${esc(s)}</span>`);
  if (tl.windows.length > 0) items.push(`<span><i style="background:${WINDOW_COLOUR};border:1px dashed #e0442f"></i>fault window</span>`);
  if (tl.segments.some((s) => s.desired !== undefined && s.desired !== 'run'))
    items.push('<span><i style="background:#222"></i>desired stop (band under the segment)</span>');
  if (tl.markers.length > 0) items.push('<span>◇ task event, ◆ Reconnected</span>');
  if (tl.bounds.length > 0) items.push('<span>┆ timer bound (red when exceeded)</span>');
  return `<div class="legend">${items.join('')}</div>`;
}

/** Each capture as the terminal showed it: title, when, exit code and the exact command, then the screen. */
function captures(screens: ScreenEvent[], t0: number): string {
  const items = screens.map((s, i) => {
    const at = t0 > 0 ? ` · at ${((s.t - t0) / 1000).toFixed(2)} s` : '';
    const exit = s.exitCode === 0 ? 'exit 0' : `<span class="over">exit ${esc(s.exitCode)}</span>`;
    return `<figure class="screen" id="screen-${i + 1}" style="margin:8px 0 16px"><figcaption><b>${esc(s.title)}</b>${at} · ${exit} · <code>${esc(showCommand(s.argv))}</code></figcaption><pre>${esc(s.text)}</pre></figure>`;
  });
  return `<p class="muted">Final screens of commands run on a pseudo-terminal of a fixed size during the run, as a person at that terminal would have seen them.</p>\n${items.join('\n')}`;
}

export function renderRunReport({ result: r, timeline: tl, svg, files, screens = [] }: RunReportInput): string {
  const title = `${r.scenario}: ${r.verdict.toUpperCase()}`;
  const parts: string[] = [];
  parts.push(`<div class="banner ${esc(r.verdict)}" id="verdict"><span class="verdict">${esc(r.verdict.toUpperCase())}</span><span class="scenario"><b>${esc(r.scenario)}</b></span>
<span class="meta">Nomad ${esc(r.nomad?.version ?? '?')} · lab ${esc(r.lab?.name ?? '?')} (${esc(r.lab?.provider ?? '?')}) · run ${esc(r.runId)} · started ${esc(r.startedAt ?? '?')}</span></div>`);

  if (r.reasons.length > 0) {
    parts.push('<h2>Why</h2>');
    for (const x of r.reasons)
      parts.push(
        `<div class="reason ${esc(x.verdict)}">${badge(x.verdict)} <b>${esc(x.check)}</b><br>${esc(x.detail)}<div class="source">source: ${esc(x.source)}</div></div>`,
      );
  }

  // Nomad's races a check named and did not count: shown even on a PASS, rare and worth a look.
  const notes = r.checks.flatMap((c) => (c.notes ?? []).map((note) => ({ c, note })));
  if (notes.length > 0) {
    parts.push("<h2>Notes: Nomad's races, named and not counted</h2>");
    for (const { c, note } of notes) parts.push(`<div class="reason note"><b>${esc(c.check)}</b><br>${esc(note)}</div>`);
  }

  parts.push('<h2>Timeline</h2>');
  parts.push(
    `<p class="muted">One lane per allocation role, per client node and per deployment of the job; segments coloured by status, fault windows shaded. ${tl.t0 > 0 ? `Time 0 is the first event of the trace (${esc(new Date(tl.t0).toISOString())}).` : 'The trace holds no event.'}</p>`,
  );
  parts.push(legend(tl));
  parts.push(`<div class="chart" id="timeline">${svg}<div id="tip"></div></div>`);

  if (tl.roles.length > 0) {
    parts.push('<h2>Allocations</h2>');
    parts.push(
      '<p class="note">Roles count the allocations Nomad created for each slot, in creation order (#1 the original); PreviousAllocation is the link Nomad recorded.</p>',
    );
    parts.push(
      table(
        ['role', 'allocation', 'node', 'created at index', 'PreviousAllocation', 'at the end'],
        tl.roles.map((r) => [esc(r.role), `<code>${esc(r.id.slice(0, 8))}</code>`, esc(r.node), String(r.createIndex), esc(r.previous ?? 'none'), esc(r.last)]),
        'roles',
      ),
    );
  }
  parts.push('<h2>Phase timings</h2>');
  parts.push(
    table(
      ['phase', 'observed', 'bound', 'bound from'],
      r.timings.map((t) => {
        const over = t.bound !== undefined && t.seconds !== undefined && t.seconds > t.bound;
        return [
          esc(t.phase),
          `<span class="${over ? 'over' : ''}">${seconds(t.seconds)}${over ? ' (over)' : ''}</span>`,
          t.bound === undefined ? '–' : `${t.bound} s`,
          `<span class="source">${esc(t.boundSource ?? '')}</span>`,
        ];
      }),
      'timings',
    ),
  );

  parts.push('<h2>Checks</h2>');
  parts.push(
    table(
      ['verdict', 'check', 'detail', 'source'],
      r.checks.map((c) => [badge(c.verdict), esc(c.check), esc(c.detail), `<span class="source">${esc(c.source)}</span>`]),
      'checks',
    ),
  );
  if ((r.notApplied ?? []).length > 0) {
    parts.push(
      `<h3>Not applied on Nomad ${esc(r.nomad?.version ?? '?')}</h3><p class="note">Expectations keyed to other Nomad releases: not judged on this one, not counted as passed.</p>`,
    );
    parts.push(
      table(
        ['expectation', 'applies to Nomad', 'source'],
        r.notApplied!.map((x) => [esc(x.expectation), `<code>${esc(x.range)}</code>`, `<span class="source">${esc(x.source)}</span>`]),
        'not-applied',
      ),
    );
  }

  if (tl.windows.length > 0) {
    parts.push('<h2>Faults</h2>');
    parts.push(
      table(
        ['fault', 'host', 'from', 'to', 'as run'],
        tl.windows.map((w) => [
          esc(w.kind),
          esc(w.host),
          `${w.from.toFixed(2)} s`,
          w.healed ? `${w.to.toFixed(2)} s` : 'never healed',
          `<code>${esc(w.detail)}</code>`,
        ]),
      ),
    );
  }

  if (screens.length > 0) {
    parts.push('<h2>Terminal captures</h2>');
    parts.push(captures(screens, tl.t0));
  }

  if (r.goldenDiff !== undefined) {
    parts.push('<h2>Golden trace</h2>');
    parts.push(
      r.goldenDiff.length === 0
        ? '<p>Same shape as the recorded golden trace.</p>'
        : `<p>Differences (information only; the verdict is the checker's):</p><pre>${esc(r.goldenDiff.join('\n'))}</pre>`,
    );
  }

  parts.push('<h2>What ran</h2>');
  const info: string[][] = [
    ['Nomad', `${esc(r.nomad?.version ?? '?')} <span class="source">${esc(r.nomad?.path ?? '')} (${esc(r.nomad?.source ?? '')})</span>`],
    ['timers', `min_heartbeat_ttl ${r.timers.minHeartbeatTtl} s, heartbeat_grace ${r.timers.heartbeatGrace} s`],
    [
      'lab',
      `${esc(r.lab?.name ?? '?')} · ${esc(r.lab?.provider ?? '?')} · subnet ${esc(r.lab?.subnet ?? '?')}${r.lab?.acl === true ? ' · ACLs' : ''}${r.lab?.tls === true ? ' · TLS' : ''}`,
    ],
    ['hosts', (r.lab?.hosts ?? []).map((h) => `${esc(h.name)} (${esc(h.role)}, ${esc(h.ip)})`).join(', ')],
    ['harness commit', esc(r.gitCommit ?? 'unknown')],
    ['finished', esc(r.finishedAt)],
  ];
  if (r.harnessError !== undefined) info.push(['stopped early', esc(r.harnessError)]);
  parts.push(
    table(
      ['', ''],
      info.map(([k, v]) => [esc(k), v!]),
    ),
  );

  parts.push('<h2>Files</h2>');
  parts.push(`<nav>${files.map((f) => `<a href="${esc(f)}">${esc(f)}</a>`).join(' ')}</nav>`);
  parts.push(jsonBlock('timeline-data', { series: SERIES, timeline: tl }));
  return page(title, parts.join('\n'), TOOLTIP);
}
