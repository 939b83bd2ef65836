// Charts for the benchmark reports: vega-lite specs rendered headless to SVG by vega, and to PNG by
// resvg (a Rust rasterizer with prebuilt binaries: no canvas, Cairo or browser needed).

import fs from 'node:fs';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface LineSeriesPoint {
  x: number;
  y: number;
  series: string;
}

/** A line chart of several series against one x axis, optionally log-scaled in x. */
export function lineChart(title: string, xTitle: string, yTitle: string, points: LineSeriesPoint[], logX = false): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 480,
    height: 300,
    background: 'white',
    data: { values: points },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle, scale: logX ? { type: 'log', base: 2 } : {} },
      y: { field: 'y', type: 'quantitative', title: yTitle },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
}

/** A grouped bar chart: one bar per (group, series). */
export function barChart(title: string, yTitle: string, bars: { group: string; series: string; value: number }[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 360,
    height: 260,
    background: 'white',
    data: { values: bars },
    mark: 'bar',
    encoding: {
      x: { field: 'group', type: 'nominal', title: null },
      xOffset: { field: 'series' },
      y: { field: 'value', type: 'quantitative', title: yTitle },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes `<base>.svg` and `<base>.png` (2x) and returns their paths. */
export async function writeChart(spec: TopLevelSpec, base: string): Promise<{ svg: string; png: string }> {
  fs.mkdirSync(path.dirname(base), { recursive: true });
  const svg = await renderSvg(spec);
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true } }).render().asPng();
  fs.writeFileSync(`${base}.svg`, svg);
  fs.writeFileSync(`${base}.png`, png);
  return { svg: `${base}.svg`, png: `${base}.png` };
}
