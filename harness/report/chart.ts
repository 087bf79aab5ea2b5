// Draws a Timeline as one static SVG with Apache ECharts' server-side renderer: no browser, no DOM,
// the same bytes for the same timeline. The one place echarts is imported.
import * as echarts from 'echarts';
import type { Timeline } from './timeline.ts';

/** Fill colours by client status (allocations) and node status; shared with the HTML legend. */
export const STATUS_COLOURS: Record<string, string> = {
  pending: '#b8bcc6',
  running: '#3f9c5a',
  complete: '#5b7fd1',
  failed: '#b3261e',
  lost: '#e0442f',
  unknown: '#f0a020',
  ready: '#3f9c5a',
  initializing: '#7cc4e6',
  disconnected: '#f0a020',
  down: '#e0442f',
  // Deployments.
  successful: '#1f6f43',
  cancelled: '#9aa0a6',
  paused: '#c9a227',
  blocked: '#8e6bbf',
};
const colour = (status: string) => STATUS_COLOURS[status] ?? '#888888';
export const WINDOW_COLOUR = 'rgba(224, 68, 47, 0.13)';

/** Which ECharts series holds what: the report's script and the browser test map elements by it. */
export const SERIES = { windows: 0, segments: 1, markers: 2, bounds: 3, metricWindows: 4, metric: 5 } as const;

const LANE_HEIGHT = 30;
const WIDTH = 1200;
const LEFT = 190;
const RIGHT = 160;
const TOP = 40;
const METRIC_HEIGHT = 90;
const GAP = 90;

type Api = {
  value: (dim: number) => number;
  coord: (v: number[]) => number[];
  size: (v: number[]) => number[];
};
type Params = { coordSys: { x: number; y: number; width: number; height: number }; dataIndex: number };

/**
 * zrender names the ids and classes it generates from counters that live as long as the process
 * (`zr3-cls-41`, `zr3-c0`); renumbered in order of appearance, the same chart gives the same bytes.
 */
function stableIds(svg: string): string {
  const seen = new Map<string, string>();
  const perKind = new Map<string, number>();
  return svg.replace(/\bzr\d+-([a-z]+-?)(\d+)\b/g, (token, kind: string) => {
    let name = seen.get(token);
    if (name === undefined) {
      const n = perKind.get(kind) ?? 0;
      perKind.set(kind, n + 1);
      name = `tl-${kind}${n}`;
      seen.set(token, name);
    }
    return name;
  });
}

export function timelineSvg(tl: Timeline): string {
  const lanesHeight = Math.max(tl.lanes.length, 1) * LANE_HEIGHT;
  const metricTop = TOP + lanesHeight + GAP;
  const height = metricTop + METRIC_HEIGHT + 45;
  const max = Math.max(Math.ceil(tl.end), 1);

  const windowItem = (labelled: boolean) => (params: Params, api: Api) => {
    const x0 = api.coord([api.value(0), 0])[0]!;
    const x1 = api.coord([api.value(1), 0])[0]!;
    const { y, height: h } = params.coordSys;
    const w = tl.windows[params.dataIndex]!;
    const children: object[] = [
      {
        type: 'rect',
        shape: { x: x0, y, width: Math.max(x1 - x0, 1), height: h },
        style: { fill: WINDOW_COLOUR, stroke: 'rgba(224, 68, 47, 0.5)', lineDash: [4, 3] },
      },
    ];
    if (labelled)
      children.push({
        type: 'text',
        style: { text: `${w.kind} ${w.host}${w.healed ? '' : ' (never healed)'}`, x: x0 + 4, y: y - 14, fill: '#a0301f', fontSize: 12 },
      });
    return { type: 'group', children };
  };

  const option = {
    animation: false,
    backgroundColor: '#ffffff',
    textStyle: { fontFamily: 'sans-serif' },
    grid: [
      { left: LEFT, right: RIGHT, top: TOP, height: lanesHeight },
      { left: LEFT, right: RIGHT, top: metricTop, height: METRIC_HEIGHT },
    ],
    xAxis: [
      { type: 'value', gridIndex: 0, min: 0, max, axisLabel: { formatter: '{value} s' }, splitLine: { lineStyle: { color: '#eceef2' } } },
      {
        type: 'value',
        gridIndex: 1,
        min: 0,
        max,
        name: 'seconds since the run started',
        nameLocation: 'middle',
        nameGap: 28,
        axisLabel: { formatter: '{value} s' },
        splitLine: { lineStyle: { color: '#eceef2' } },
      },
    ],
    yAxis: [
      {
        type: 'category',
        gridIndex: 0,
        inverse: true,
        data: tl.lanes.map((l) => l.label),
        axisTick: { show: false },
        axisLabel: { fontSize: 12, color: '#222222' },
        splitLine: { show: true, lineStyle: { color: '#f3f4f6' } },
      },
      {
        type: 'value',
        gridIndex: 1,
        minInterval: 1,
        name: tl.metric ? `${tl.metric.name}${tl.metric.labels ? ` {${tl.metric.labels}}` : ''}` : 'no metric recorded',
        nameTextStyle: { align: 'left', color: '#444444' },
      },
    ],
    series: [
      {
        type: 'custom',
        name: 'fault windows',
        xAxisIndex: 0,
        yAxisIndex: 0,
        silent: true,
        renderItem: windowItem(true),
        encode: { x: [0, 1] },
        data: tl.windows.map((w) => [w.from, w.to]),
        z: 1,
      },
      {
        type: 'custom',
        name: 'statuses',
        xAxisIndex: 0,
        yAxisIndex: 0,
        encode: { x: [1, 2], y: 0 },
        data: tl.segments.map((s) => [s.lane, s.from, s.to]),
        z: 2,
        renderItem: (params: Params, api: Api) => {
          const s = tl.segments[params.dataIndex]!;
          const [x0, yc] = api.coord([s.from, s.lane]) as [number, number];
          const x1 = api.coord([s.to, s.lane])[0]!;
          const h = LANE_HEIGHT * 0.6;
          const width = Math.max(x1 - x0, 1.5);
          const children: object[] = [
            { type: 'rect', shape: { x: x0, y: yc - h / 2, width, height: h }, style: { fill: colour(s.status), stroke: '#ffffff', lineWidth: 0.5 } },
          ];
          if (width > 48) children.push({ type: 'text', silent: true, style: { text: s.status, x: x0 + 4, y: yc - 6, fill: '#ffffff', fontSize: 11 } });
          // Desired status other than run: a dark band along the bottom of the segment.
          if (s.desired !== undefined && s.desired !== 'run') {
            children.push({
              type: 'rect',
              silent: true,
              shape: { x: x0, y: yc + h / 2 - 4, width, height: 4 },
              style: { fill: s.desired === 'evict' ? '#6a3d9a' : '#222222' },
            });
          }
          return { type: 'group', children };
        },
      },
      {
        type: 'custom',
        name: 'task events',
        xAxisIndex: 0,
        yAxisIndex: 0,
        encode: { x: 1, y: 0 },
        data: tl.markers.map((m) => [m.lane, m.t]),
        z: 4,
        renderItem: (params: Params, api: Api) => {
          const m = tl.markers[params.dataIndex]!;
          const [x, yc] = api.coord([m.t, m.lane]) as [number, number];
          const y = yc - LANE_HEIGHT * 0.3 - 3;
          const key = m.type === 'Reconnected';
          const r = key ? 5 : 3.5;
          const children: object[] = [
            {
              type: 'polygon',
              shape: {
                points: [
                  [x, y - r],
                  [x + r, y],
                  [x, y + r],
                  [x - r, y],
                ],
              },
              style: { fill: key ? '#111111' : '#ffffff', stroke: '#111111', lineWidth: 1 },
            },
          ];
          if (key)
            children.push({ type: 'text', silent: true, style: { text: m.type, x: x + 7, y: y - 6, fill: '#111111', fontSize: 11, fontWeight: 'bold' } });
          return { type: 'group', children };
        },
      },
      {
        type: 'custom',
        name: 'timer bounds',
        xAxisIndex: 0,
        yAxisIndex: 0,
        silent: true,
        encode: { x: 0 },
        data: tl.bounds.map((b) => [b.t]),
        z: 3,
        renderItem: (params: Params, api: Api) => {
          const b = tl.bounds[params.dataIndex]!;
          const x = api.coord([b.t, 0])[0]!;
          const { y, height: h } = params.coordSys;
          const over = b.observed !== undefined && b.observed > b.seconds;
          // Labels go under the axis, in rows, so that bounds a second apart stay readable.
          const row = params.dataIndex % 3;
          const label = `${b.phase.replace(/^\S+ -> /, '')} ≤ ${b.seconds}s${over ? ` (took ${b.observed!.toFixed(1)}s)` : ''}`;
          const children: object[] = [
            {
              type: 'line',
              shape: { x1: x, y1: y, x2: x, y2: y + h + 26 + row * 12 },
              style: { stroke: over ? '#b3261e' : '#555555', lineDash: [2, 3], lineWidth: 1 },
            },
            { type: 'text', style: { text: label, x: x + 3, y: y + h + 20 + row * 12, fill: over ? '#b3261e' : '#555555', fontSize: 10 } },
          ];
          return { type: 'group', children };
        },
      },
      {
        type: 'custom',
        name: 'fault windows (metric)',
        xAxisIndex: 1,
        yAxisIndex: 1,
        silent: true,
        renderItem: windowItem(false),
        encode: { x: [0, 1] },
        data: tl.windows.map((w) => [w.from, w.to]),
        z: 1,
      },
      {
        type: 'line',
        name: tl.metric?.name ?? 'metric',
        xAxisIndex: 1,
        yAxisIndex: 1,
        step: 'end',
        symbol: 'none',
        lineStyle: { color: '#f0a020', width: 2 },
        areaStyle: { color: 'rgba(240, 160, 32, 0.15)' },
        data: tl.metric?.points ?? [],
        z: 2,
      },
    ],
  };

  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: WIDTH, height });
  try {
    chart.setOption(option as echarts.EChartsOption);
    return stableIds(chart.renderToSVGString());
  } finally {
    chart.dispose();
  }
}
