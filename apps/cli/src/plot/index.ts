export { benchPlot } from './bench-plot.js';
export { evalPlot } from './eval-plot.js';
export {
  CHART_SIZE,
  type ChartSize,
  drawLineChart,
  type LineChartSpec,
  type LineSeries,
  PlotDataError,
  renderLineChart,
  svgDocument,
} from './line-chart.js';
export { type PanelsSpec, renderPanels, renderTwoPanels } from './panels.js';
export { checkPlotFile, writePlot } from './plot-file.js';
