// Browser: report.html of a passing and a failing real run (committed fixtures), opened in real
// headless Chromium (Debian's, driven by playwright-core; no browser download). Checks what a reader
// sees: no console errors, one lane per allocation role, the unknown segment drawn inside the
// partition shading, the FAIL banner, the hover details. Screenshots: reports/test-output/.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../harness/config/paths.ts';
import { SERIES } from '../../harness/report/chart.ts';
import type { Timeline } from '../../harness/report/timeline.ts';
import { writeRunReports } from '../../harness/report/write.ts';
import { normalise } from '../../harness/trace/normalise.ts';
import { readTrace } from '../../harness/trace/writer.ts';

const executablePath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
// The machine's network is closed: without these Chromium keeps trying Google's hosts.
const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const fixtures = join(repoRoot, 'test', 'fixtures', 'runs');
const shots = join(repoRoot, 'reports', 'test-output');
const scratch = mkdtempSync(join(tmpdir(), 'nomad-lab-browser-'));
let browser: Browser;

interface Opened {
  page: Page;
  errors: string[];
  timeline: Timeline;
  roles: string[];
}

async function open(fixture: string): Promise<Opened> {
  const dir = join(scratch, fixture);
  cpSync(join(fixtures, fixture), dir, { recursive: true });
  const report = writeRunReports(dir);
  const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  // Anything the page asks for beyond its own file is a defect of a self-contained report.
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) errors.push(`request to ${r.url()}`);
  });
  await page.goto(pathToFileURL(report).href);
  const timeline = (JSON.parse((await page.locator('#timeline-data').textContent()) ?? '{}') as { timeline: Timeline }).timeline;
  const roles = normalise(readTrace(join(dir, 'trace.ndjson'))).allocs.map((a) => a.role);
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `report-${fixture}.png`), fullPage: true });
  return { page, errors, timeline, roles };
}

const item = (page: Page, series: number, index: number) => page.locator(`svg path[ecmeta_series_index="${series}"][ecmeta_data_index="${index}"]`).first();

describe('report.html in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(executablePath))
      throw new Error(
        `no Chromium at ${executablePath}: the test command's set-up (scripts/setup.sh --browser) installs Debian's chromium; or set CHROMIUM_PATH`,
      );
    browser = await chromium.launch({ executablePath, args });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('a passing run: no console errors, a lane per role, the unknown segment inside the partition shading', async () => {
    const { page, errors, timeline, roles } = await open('spread-pass');
    expect(errors).toEqual([]);
    await expect.poll(() => page.locator('#verdict').getAttribute('class')).toBe('banner pass');

    // Lanes: the y-axis labels the chart drew, one per allocation role in the trace.
    const labels = await page.locator('#timeline svg text').allTextContents();
    const laneLabels = labels.filter((t) => /^\S+\[\d+\]#\d+ on \S+$/.test(t));
    expect(laneLabels.map((l) => l.split(' ')[0])).toEqual(roles);

    const unknownIndex = timeline.segments.findIndex((s) => s.status === 'unknown' && timeline.lanes[s.lane]!.name === 'cache[0]#1');
    expect(unknownIndex).toBeGreaterThanOrEqual(0);
    const segment = await item(page, SERIES.segments, unknownIndex).boundingBox();
    const shading = await item(page, SERIES.windows, 0).boundingBox();
    expect(segment && shading).toBeTruthy();
    // It begins inside the shaded window, on a lane inside the shading's height.
    expect(segment!.x).toBeGreaterThan(shading!.x);
    expect(segment!.x).toBeLessThan(shading!.x + shading!.width);
    expect(segment!.y).toBeGreaterThanOrEqual(shading!.y);
    expect(segment!.y + segment!.height).toBeLessThanOrEqual(shading!.y + shading!.height);
    // Drawn in the unknown colour.
    expect(await item(page, SERIES.segments, unknownIndex).getAttribute('fill')).toBe('#f0a020');

    // Hovering the segment tells what it is.
    await page.mouse.move(segment!.x + 10, segment!.y + segment!.height / 2);
    await expect.poll(() => page.locator('#tip').textContent()).toMatch(/^cache\[0\]#1 on client\d\s*unknown/);
    await page.close();
  }, 60_000);

  it('a failing run: the FAIL banner first, with the reason; the lost segment, no unknown', async () => {
    const { page, errors, timeline, roles } = await open('spread-without-disconnect');
    expect(errors).toEqual([]);
    const banner = page.locator('#verdict');
    expect(await banner.getAttribute('class')).toBe('banner fail');
    expect(await banner.locator('.verdict').textContent()).toBe('FAIL');
    expect(await banner.locator('.scenario').textContent()).toBe('spread');
    expect(await banner.isVisible()).toBe(true);
    const box = await banner.boundingBox();
    expect(box!.y).toBeLessThan(100);
    expect(await page.locator('.reason').first().textContent()).toMatch(/not met within 30s|given up after [\d.]+s of 30s/);
    expect(await page.getByText('expected unknown after running, observed lost').count()).toBeGreaterThan(0);
    const labels = (await page.locator('#timeline svg text').allTextContents()).filter((t) => /^\S+\[\d+\]#\d+ on \S+$/.test(t));
    expect(labels).toHaveLength(roles.length);
    const lost = timeline.segments.findIndex((s) => s.status === 'lost');
    expect(await item(page, SERIES.segments, lost).getAttribute('fill')).toBe('#e0442f');
    expect(timeline.segments.some((s) => s.status === 'unknown')).toBe(false);
    await page.close();
  }, 60_000);

  it('screenshots of both pages are saved with the test output', () => {
    for (const f of ['spread-pass', 'spread-without-disconnect']) {
      const png = readFileSync(join(shots, `report-${f}.png`));
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect(png.length).toBeGreaterThan(20_000);
    }
  });
});
