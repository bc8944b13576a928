import { describe, expect, it } from 'vitest';
import { PlotDataError, renderLineChart } from './line-chart.js';

/** Text of every element with class `cls` (e.g. the x tick labels). */
const texts = (svg: string, cls: string) =>
  [...svg.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, 'g'))].map((m) => m[1]);

describe('renderLineChart', () => {
  const svg = renderLineChart({
    title: 'Decode <fast> & "slow"',
    xLabel: 'depth',
    yLabel: 'ms',
    series: [
      {
        name: 'cpu',
        points: [
          [20, 100],
          [0, 0],
          [10, 50],
        ],
      },
      { name: 'reference', points: [[10, 80]] },
    ],
  });

  it('is a standalone SVG document with escaped title and labels', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400"')).toBe(true);
    expect(svg).toContain('<title>Decode &lt;fast&gt; &amp; &quot;slow&quot;</title>');
    expect(texts(svg, 'label x')).toEqual(['depth']);
    expect(svg).toContain('rotate(-90)" text-anchor="middle" font-size="12">ms</text>');
  });

  it('puts nice ticks on both axes', () => {
    expect(texts(svg, 'tick x')).toEqual(['0', '5', '10', '15', '20']);
    expect(texts(svg, 'tick y')).toEqual(['0', '20', '40', '60', '80', '100']);
  });

  it('draws each series through its points in x order, at the scaled positions', () => {
    // Plot area: x 64..612 for 0..20, y 324..36 for 0..100 (one legend row below).
    expect(svg).toContain('<path d="M64,324L338,180L612,36" fill="none" stroke="#4e79a7"');
    expect(svg).toMatch(/<circle cx="338" cy="180" r="3" fill="#4e79a7" data-x="10" data-y="50">/);
    // A single point gets a marker and no line.
    expect(svg).toMatch(/<circle cx="338" cy="93.6" r="3" fill="#f28e2b" data-x="10" data-y="80">/);
    expect(svg).not.toMatch(/<path d="[^"]*" fill="none" stroke="#f28e2b"/);
    expect(svg.match(/<g class="legend">/g)).toHaveLength(2);
    expect(svg).toContain('font-size="11">reference</text></g>');
  });

  it('uses powers of two on a log x axis of power-of-two depths', () => {
    const log = renderLineChart({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      logX: true,
      series: [
        {
          name: 's',
          points: [
            [1024, 1],
            [4096, 2],
            [16384, 3],
          ],
        },
      ],
    });
    expect(texts(log, 'tick x')).toEqual(['1,024', '2,048', '4,096', '8,192', '16,384']);
    // log2 spacing: 4096 sits halfway between 1024 and 16384.
    expect(log).toMatch(/<circle cx="338" [^>]*data-x="4096"/);
  });

  it('rejects data it cannot draw, naming the chart and the value', () => {
    const bad =
      (points: [number, number][], logX = false) =>
      () =>
        renderLineChart({ title: 'T', xLabel: 'x', yLabel: 'y', logX, series: [{ name: 's', points }] });
    expect(bad([])).toThrow(PlotDataError);
    expect(bad([])).toThrow('chart "T" has no points');
    expect(bad([[1, Number.NaN]])).toThrow('series "s": point [1, NaN] is not finite');
    expect(
      bad(
        [
          [0, 1],
          [2, 3],
        ],
        true,
      ),
    ).toThrow('x axis is logarithmic but has the value 0');
  });
});
