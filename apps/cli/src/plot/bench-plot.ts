import type { BenchResult } from '../commands/bench.js';
import type { LineChartSpec, LineSeries } from './line-chart.js';
import { renderTwoPanels } from './panels.js';

/** The fields of a bench result the plot reads. */
export type BenchPlotRow = Pick<
  BenchResult,
  | 'backend'
  | 'attention'
  | 'dtype'
  | 'indexer'
  | 'batch'
  | 'depth'
  | 'preset'
  | 'tg_ms_median'
  | 'pp_tok_s'
  | 'fill_tok_s'
>;

/**
 * The series key of a row: backend · attention · dtype, plus the indexer precision and the batch
 * size when the results hold more than one of them.
 */
function seriesName(row: BenchPlotRow, varies: { indexer: boolean; batch: boolean }): string {
  const parts = [row.backend, row.attention, row.dtype];
  if (varies.indexer) parts.push(`indexer ${row.indexer}`);
  if (varies.batch) parts.push(`batch ${row.batch}`);
  return parts.join(' · ');
}

function group(
  rows: readonly BenchPlotRow[],
  value: (row: BenchPlotRow) => number,
  varies: { indexer: boolean; batch: boolean },
): LineSeries[] {
  const series = new Map<string, [number, number][]>();
  for (const row of rows) {
    const name = seriesName(row, varies);
    const points = series.get(name) ?? [];
    points.push([row.depth, value(row)]);
    series.set(name, points);
  }
  return [...series].map(([name, points]) => ({ name, points }));
}

/**
 * `dsa bench --plot`: two panels against cache depth, decode ms per step (median) and prefill
 * tokens/s (the fill to `depth` with `--cache prefill`, else the fresh `--prompt` forward), one line
 * per backend × attention × dtype.
 */
export function benchPlot(rows: readonly BenchPlotRow[]): string {
  const varies = {
    indexer: new Set(rows.map((r) => r.indexer)).size > 1,
    batch: new Set(rows.map((r) => r.batch)).size > 1,
  };
  const depths = rows.map((r) => r.depth);
  const logX = depths.every((d) => d > 0) && Math.max(...depths) / Math.min(...depths) >= 8;
  const filled = rows.every((r) => r.fill_tok_s !== null);
  const decode: LineChartSpec = {
    title: 'Decode',
    xLabel: 'cache depth (tokens)',
    yLabel: 'ms per decode step (median)',
    logX,
    series: group(rows, (r) => r.tg_ms_median, varies),
  };
  const prefill: LineChartSpec = {
    title: 'Prefill',
    xLabel: 'cache depth (tokens)',
    yLabel: filled ? 'prefill tokens/s (filling to depth)' : 'prefill tokens/s (fresh prompt)',
    logX,
    series: group(rows, (r) => (filled ? r.fill_tok_s! : r.pp_tok_s), varies),
  };
  const presets = [...new Set(rows.map((r) => r.preset))].join(', ');
  return renderTwoPanels(`dsa bench: ${presets}`, decode, prefill);
}
