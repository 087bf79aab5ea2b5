// The nightly history and what it shows: one record per scenario run and Nomad version per night,
// and the trends of tonight against earlier nights (newly failing, fixed, flaky, timings that
// moved beyond a threshold). Pure: history in, trends out.
import { worstVerdict, type RunVerdict } from '../report/result.ts';

type Verdict = RunVerdict;

export interface NightRecord {
  date: string;
  scenario: string;
  version: string;
  verdict: Verdict;
  wallSeconds: number;
  detectSeconds: number | undefined;
  reconnectSeconds: number | undefined;
  /** The run's report.html, relative to the nightly root (reports/nightly/). */
  report: string | undefined;
  /** The checker's first reason, when the run did not pass. */
  reason: string | undefined;
}

export type Measure = 'wall' | 'detection' | 'reconnect';

export interface TrendOptions {
  /** Nights, tonight included, that flakiness and baselines look at. */
  window: number;
  /** A timing moved when it differs from the baseline by more than this fraction of it... */
  threshold: number;
  /** ...and by more than this many seconds (sub-second jitter is not news). */
  minSeconds: number;
}

export const DEFAULT_TRENDS: TrendOptions = { window: 7, threshold: 0.5, minSeconds: 2 };

export interface Trends {
  date: string;
  /** Earlier nights in the window, newest first. */
  previousNights: string[];
  newlyFailing: Array<{ scenario: string; version: string; verdict: Verdict; lastPass: string; reason: string | undefined }>;
  stillFailing: Array<{ scenario: string; version: string; verdict: Verdict; since: string }>;
  fixed: Array<{ scenario: string; version: string; failedOn: string }>;
  flaky: Array<{ scenario: string; version: string; verdicts: Array<{ date: string; verdict: Verdict }>; flips: number }>;
  moved: Array<{ scenario: string; version: string; measure: Measure; tonight: number; baseline: number; change: number }>;
}

const keyOf = (r: { scenario: string; version: string }) => `${r.scenario}\u0000${r.version}`;
const isDate = (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s);

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** One night's verdict for a key: any non-pass run of the night makes the night non-pass. */
const nightVerdict = (records: NightRecord[]): Verdict => worstVerdict(records.map((r) => r.verdict));

const measureOf = (r: NightRecord, m: Measure) => (m === 'wall' ? r.wallSeconds : m === 'detection' ? r.detectSeconds : r.reconnectSeconds);

export function analyse(all: NightRecord[], date: string, options: TrendOptions = DEFAULT_TRENDS): Trends {
  // A scenario that does not apply to a release says nothing about it, either way.
  const history = all.filter((r) => r.verdict !== 'not-applicable');
  const dates = [...new Set(history.map((r) => r.date).filter(isDate))].sort();
  const previousAll = dates.filter((d) => d < date).reverse();
  const previousNights = previousAll.slice(0, Math.max(options.window - 1, 0));
  const tonight = history.filter((r) => r.date === date);
  const keys = [...new Set(tonight.map(keyOf))].sort();
  const byKeyDate = (key: string, d: string) => history.filter((r) => r.date === d && keyOf(r) === key);

  const trends: Trends = { date, previousNights, newlyFailing: [], stillFailing: [], fixed: [], flaky: [], moved: [] };
  for (const key of keys) {
    const own = byKeyDate(key, date);
    const { scenario, version } = own[0]!;
    const verdict = nightVerdict(own);
    // The most recent earlier night that ran this scenario on this version, over all history.
    const lastNight = previousAll.find((d) => byKeyDate(key, d).length > 0);
    const lastVerdict = lastNight === undefined ? undefined : nightVerdict(byKeyDate(key, lastNight));
    if (verdict !== 'pass') {
      if (lastVerdict === 'pass' || lastVerdict === undefined) {
        const lastPass = lastNight ?? 'never run before';
        trends.newlyFailing.push({ scenario, version, verdict, lastPass, reason: own.find((r) => r.verdict !== 'pass')?.reason });
      } else {
        // The first night of the current run of failures (newest first until a pass).
        let since = lastNight!;
        for (const d of previousAll) {
          const records = byKeyDate(key, d);
          if (records.length === 0) continue;
          if (nightVerdict(records) === 'pass') break;
          since = d;
        }
        trends.stillFailing.push({ scenario, version, verdict, since });
      }
    } else if (lastVerdict !== undefined && lastVerdict !== 'pass') {
      trends.fixed.push({ scenario, version, failedOn: lastNight! });
    }

    // Flaky: the verdict changed at least twice across the window, or within one night's repeats.
    const windowNights = [...previousNights]
      .reverse()
      .concat(date)
      .filter((d) => byKeyDate(key, d).length > 0);
    const verdicts = windowNights.map((d) => ({ date: d, verdict: nightVerdict(byKeyDate(key, d)) }));
    let flips = verdicts.filter((v, i) => i > 0 && v.verdict !== verdicts[i - 1]!.verdict).length;
    flips += windowNights.filter((d) => new Set(byKeyDate(key, d).map((r) => r.verdict)).size > 1).length * 2;
    if (flips >= 2) trends.flaky.push({ scenario, version, verdicts, flips });

    // Timings: tonight's median against the median of the earlier nights in the window (passing runs only).
    for (const measure of ['wall', 'detection', 'reconnect'] as const) {
      const tonightValues = own
        .filter((r) => r.verdict === 'pass')
        .map((r) => measureOf(r, measure))
        .filter((v): v is number => v !== undefined);
      const before = previousNights
        .flatMap((d) =>
          byKeyDate(key, d)
            .filter((r) => r.verdict === 'pass')
            .map((r) => measureOf(r, measure)),
        )
        .filter((v): v is number => v !== undefined);
      if (tonightValues.length === 0 || before.length === 0) continue;
      const now = median(tonightValues);
      const baseline = median(before);
      const delta = Math.abs(now - baseline);
      if (delta > options.minSeconds && delta > options.threshold * baseline) {
        trends.moved.push({ scenario, version, measure, tonight: now, baseline, change: baseline === 0 ? Infinity : (now - baseline) / baseline });
      }
    }
  }
  return trends;
}

/** History as stored: one JSON record per line. Unreadable lines are reported, not fatal. */
export function parseHistory(text: string): { records: NightRecord[]; problems: string[] } {
  const records: NightRecord[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const r = JSON.parse(line) as NightRecord;
      if (typeof r.date !== 'string' || !isDate(r.date) || typeof r.scenario !== 'string' || typeof r.version !== 'string')
        throw new Error('missing date, scenario or version');
      records.push(r);
    } catch (error) {
      problems.push(`line ${i + 1}: ${(error as Error).message}`);
    }
  });
  return { records, problems };
}

/**
 * Tonight's records replace earlier records of the same date, scenario and version (a re-run);
 * what tonight did not run again is kept.
 */
export function mergeHistory(history: NightRecord[], tonight: NightRecord[]): NightRecord[] {
  const rerun = new Set(tonight.map((r) => `${r.date}\u0000${keyOf(r)}`));
  return [...history.filter((r) => !rerun.has(`${r.date}\u0000${keyOf(r)}`)), ...tonight].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

export const formatHistory = (records: NightRecord[]): string => records.map((r) => JSON.stringify(r)).join('\n') + (records.length > 0 ? '\n' : '');
