import { CHART_SIZE, type ChartSize, drawLineChart, type LineChartSpec, svgDocument } from './line-chart.js';
import { escapeXml } from './svg.js';

/** What {@link renderPanels} lays out. */
export interface PanelsSpec {
  /** Heading above the panels. */
  readonly title: string;
  /** The charts, left to right then top to bottom. */
  readonly panels: readonly LineChartSpec[];
  /** Panels per row (default: all in one row). */
  readonly columns?: number;
  /** Size of each panel (default {@link CHART_SIZE}). */
  readonly panelSize?: ChartSize;
}

const HEADING = 32;

/** Several line charts side by side (a grid of `columns`) in one SVG document, under one heading. */
export function renderPanels(spec: PanelsSpec): string {
  const columns = Math.max(1, Math.min(spec.columns ?? spec.panels.length, spec.panels.length));
  const panel = spec.panelSize ?? CHART_SIZE;
  const rows = Math.ceil(spec.panels.length / columns);
  const size = { width: columns * panel.width, height: HEADING + rows * panel.height };
  const body = spec.panels.map((chart, i) =>
    drawLineChart(
      chart,
      (i % columns) * panel.width,
      HEADING + Math.floor(i / columns) * panel.height,
      panel,
    ),
  );
  return svgDocument(
    [
      `<text class="heading" x="${size.width / 2}" y="22" text-anchor="middle" font-size="17" font-weight="bold">${escapeXml(spec.title)}</text>`,
      ...body,
    ].join('\n'),
    size,
    spec.title,
  );
}

/** Two charts side by side: {@link renderPanels} with two panels in one row. */
export function renderTwoPanels(title: string, left: LineChartSpec, right: LineChartSpec): string {
  return renderPanels({ title, panels: [left, right], columns: 2 });
}
