import { scaleLinear, scaleLog } from 'd3-scale';
import { coordinate, escapeXml, PALETTE } from './svg.js';

/** One line of a chart: a name for the legend and its `[x, y]` points (drawn in x order). */
export interface LineSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

/** What {@link renderLineChart} draws. */
export interface LineChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Logarithmic x axis (base 2 ticks when the data spans powers of two, else base 10); every x must be > 0. */
  readonly logX?: boolean;
  /** Logarithmic y axis; every y must be > 0. */
  readonly logY?: boolean;
  readonly series: readonly LineSeries[];
}

/** Pixel size of a chart. */
export interface ChartSize {
  readonly width: number;
  readonly height: number;
}

/** Default size of one chart, in px. */
export const CHART_SIZE: ChartSize = { width: 640, height: 400 };

/** Thrown for a chart that cannot be drawn: no points, a non-finite value, a non-positive value on a log axis. */
export class PlotDataError extends Error {
  override readonly name = 'PlotDataError';
}

/** Plot area margins: room for the title, tick labels, axis labels and the legend. */
const MARGIN = { top: 36, right: 28, bottom: 60, left: 64 } as const;
const LEGEND_ROW = 16;

type Scale = ((value: number) => number) & {
  ticks(count?: number): number[];
  tickFormat(count?: number, specifier?: string): (value: number) => string;
};

/** A scale for one axis and the d3-format specifier of its tick labels. */
interface Axis {
  readonly scale: Scale;
  readonly format: string | undefined;
  /** Log base, or undefined for a linear axis. */
  readonly base: number | undefined;
}

function axisScale(values: number[], log: boolean, range: [number, number], axis: string): Axis {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (log) {
    if (lo <= 0) throw new PlotDataError(`${axis} axis is logarithmic but has the value ${lo} (must be > 0)`);
    if (lo === hi) [lo, hi] = [lo / 2, hi * 2];
    const base = values.every((v) => Number.isInteger(Math.log2(v))) ? 2 : 10;
    const scale = scaleLog().base(base).domain([lo, hi]).range(range).nice() as unknown as Scale;
    return { scale, format: base === 2 ? ',' : '~s', base };
  }
  if (lo === hi) [lo, hi] = lo === 0 ? [0, 1] : [Math.min(0, lo), Math.max(0, hi) * 1.1 || 1];
  return {
    scale: scaleLinear().domain([lo, hi]).range(range).nice() as unknown as Scale,
    format: undefined,
    base: undefined,
  };
}

/**
 * Draws a chart as an SVG `<g>` fragment inside the box at (`x`, `y`) of the given size: axes with
 * ticks and grid lines, one polyline with point markers per series, axis labels, a title and a legend.
 */
export function drawLineChart(spec: LineChartSpec, x: number, y: number, size: ChartSize): string {
  const points = spec.series.flatMap((s) => s.points);
  if (points.length === 0) throw new PlotDataError(`chart "${spec.title}" has no points`);
  for (const s of spec.series) {
    for (const [px, py] of s.points) {
      if (!Number.isFinite(px) || !Number.isFinite(py))
        throw new PlotDataError(
          `chart "${spec.title}", series "${s.name}": point [${px}, ${py}] is not finite`,
        );
    }
  }
  const legendRows = Math.ceil(spec.series.length / 2);
  const bottom = MARGIN.bottom + legendRows * LEGEND_ROW;
  const plot = {
    left: MARGIN.left,
    top: MARGIN.top,
    right: size.width - MARGIN.right,
    bottom: size.height - bottom,
  };
  const axis = (i: 0 | 1, log: boolean, range: [number, number]) =>
    axisScale(
      points.map((p) => p[i]),
      log,
      range,
      `chart "${spec.title}": ${i === 0 ? 'x' : 'y'}`,
    );
  const xAxis = axis(0, spec.logX === true, [plot.left, plot.right]);
  const yAxis = axis(1, spec.logY === true, [plot.bottom, plot.top]);
  const sx = xAxis.scale;
  const sy = yAxis.scale;
  const out: string[] = [`<g class="chart" transform="translate(${x},${y})">`];
  out.push(
    `<text class="title" x="${size.width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`,
  );
  const xTicks = sx.ticks(spec.logX ? 8 : 6);
  const yTicks = sy.ticks(6);
  const xFormat = sx.tickFormat(spec.logX ? 8 : 6, xAxis.format);
  const yFormat = sy.tickFormat(6, yAxis.format);
  const visibleX = xAxis.base ? thinLogTicks(xTicks, xAxis.base) : xTicks;
  const visibleY = yAxis.base ? thinLogTicks(yTicks, yAxis.base) : yTicks;
  for (const t of visibleX) {
    const px = coordinate(sx(t));
    out.push(
      `<line class="grid" x1="${px}" x2="${px}" y1="${plot.top}" y2="${plot.bottom}" stroke="#e5e5e5"/>`,
      `<text class="tick x" x="${px}" y="${plot.bottom + 16}" text-anchor="middle" font-size="11">${escapeXml(xFormat(t))}</text>`,
    );
  }
  for (const t of visibleY) {
    const py = coordinate(sy(t));
    out.push(
      `<line class="grid" x1="${plot.left}" x2="${plot.right}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>`,
      `<text class="tick y" x="${plot.left - 6}" y="${py}" dy="0.32em" text-anchor="end" font-size="11">${escapeXml(yFormat(t))}</text>`,
    );
  }
  out.push(
    `<path class="axis" d="M${plot.left},${plot.top}V${plot.bottom}H${plot.right}" fill="none" stroke="#333"/>`,
    `<text class="label x" x="${(plot.left + plot.right) / 2}" y="${plot.bottom + 34}" text-anchor="middle" font-size="12">${escapeXml(spec.xLabel)}</text>`,
    `<text class="label y" transform="translate(16,${(plot.top + plot.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(spec.yLabel)}</text>`,
  );
  spec.series.forEach((series, i) => {
    const colour = PALETTE[i % PALETTE.length]!;
    const sorted = [...series.points].sort((a, b) => a[0] - b[0]);
    const xy = sorted.map(([px, py]) => `${coordinate(sx(px))},${coordinate(sy(py))}`);
    out.push(`<g class="series" data-name="${escapeXml(series.name)}">`);
    if (xy.length > 1)
      out.push(`<path d="M${xy.join('L')}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    for (const [j, p] of sorted.entries()) {
      const [cx, cy] = xy[j]!.split(',');
      out.push(
        `<circle cx="${cx}" cy="${cy}" r="3" fill="${colour}" data-x="${p[0]}" data-y="${p[1]}"><title>${escapeXml(`${series.name}: ${p[0]}, ${p[1]}`)}</title></circle>`,
      );
    }
    out.push('</g>');
    const lx = plot.left + (i % 2) * ((plot.right - plot.left) / 2);
    const ly = size.height - bottom + 54 + Math.floor(i / 2) * LEGEND_ROW;
    out.push(
      `<g class="legend"><line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2"/><text x="${lx + 24}" y="${ly}" dy="0.32em" font-size="11">${escapeXml(series.name)}</text></g>`,
    );
  });
  out.push('</g>');
  return out.join('\n');
}

/** On a log axis d3 gives every integer multiple of each power; keep only the powers of the base when they are enough. */
function thinLogTicks(ticks: number[], base: number): number[] {
  const powers = ticks.filter(
    (t) => Math.abs(Math.log(t) / Math.log(base) - Math.round(Math.log(t) / Math.log(base))) < 1e-9,
  );
  return powers.length >= 3 ? powers : ticks;
}

/** Wraps SVG content in a standalone document of the given size (white background). */
export function svgDocument(content: string, size: ChartSize, title: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size.width}" height="${size.height}" viewBox="0 0 ${size.width} ${size.height}" font-family="system-ui, sans-serif" role="img" aria-label="${escapeXml(title)}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    content,
    '</svg>',
    '',
  ].join('\n');
}

/**
 * A line chart as a standalone SVG document: axes with "nice" ticks (linear, or logarithmic with
 * `logX` / `logY`), one line with point markers per series, a legend. No browser or native code.
 *
 * @example
 * renderLineChart({ title: 'Decode', xLabel: 'depth', yLabel: 'ms/token', logX: true,
 *   series: [{ name: 'cpu', points: [[1024, 3.1], [4096, 3.6]] }] });
 */
export function renderLineChart(spec: LineChartSpec, size: ChartSize = CHART_SIZE): string {
  return svgDocument(drawLineChart(spec, 0, 0, size), size, spec.title);
}
