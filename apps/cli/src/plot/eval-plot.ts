import type { EvalRow } from '../eval/eval-settings.js';
import type { LineChartSpec, LineSeries } from './line-chart.js';
import { renderTwoPanels } from './panels.js';

/** The series of a row: `dense`, or selector · policy (· k when the x axis is the context). */
function seriesName(row: EvalRow, withTopk: boolean): string {
  if (row.attention === 'dense') return 'dense';
  const parts = [row.selector ?? '', row.topk_policy ?? 'fixed'];
  if (withTopk) parts.push(`k=${row.topk}`);
  return parts.join(' · ');
}

/**
 * `dsa eval --plot`: two panels, the metric and the mean attended tokens per query, against index top-k
 * (when the rows hold several) or else against context length; one line per selector × policy, and dense
 * attention as its own line (flat against top-k, which it does not use).
 */
export function evalPlot(rows: readonly EvalRow[]): string {
  const topks = [...new Set(rows.flatMap((r) => (r.topk === null ? [] : [r.topk])))].sort((a, b) => a - b);
  const byTopk = topks.length > 1;
  const x = (row: EvalRow) => (byTopk ? row.topk : row.context);
  const series = (value: (row: EvalRow) => number): LineSeries[] => {
    const map = new Map<string, [number, number][]>();
    for (const row of rows) {
      const name = seriesName(row, !byTopk && topks.length > 1);
      const points = map.get(name) ?? [];
      if (row.attention === 'dense' && byTopk) for (const k of topks) points.push([k, value(row)]);
      else points.push([x(row)!, value(row)]);
      map.set(name, points);
    }
    return [...map].map(([name, points]) => ({ name, points: points.sort((a, b) => a[0] - b[0]) }));
  };
  const xs = rows.map((r) => x(r) ?? 0).filter((v) => v > 0);
  const logX = xs.length > 0 && Math.max(...xs) / Math.min(...xs) >= 8;
  const metric = rows[0]?.metric ?? 'accuracy';
  const xLabel = byTopk ? 'index top-k (positions selected per query)' : 'context length (tokens)';
  const left: LineChartSpec = { title: metric, xLabel, yLabel: metric, logX, series: series((r) => r.value) };
  const right: LineChartSpec = {
    title: 'Attended tokens',
    xLabel,
    yLabel: 'positions attended per query and layer (mean)',
    logX,
    series: series((r) => r.attended_tokens_mean),
  };
  const task = rows[0]?.task ?? 'recall';
  return renderTwoPanels(`dsa eval: ${task}`, left, right);
}
