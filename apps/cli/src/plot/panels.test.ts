import { describe, expect, it } from 'vitest';
import { renderPanels, renderTwoPanels } from './panels.js';

const chart = (title: string, y: number) => ({
  title,
  xLabel: 'x',
  yLabel: 'y',
  series: [
    {
      name: title,
      points: [
        [0, 0],
        [1, y],
      ] as [number, number][],
    },
  ],
});

describe('renderPanels', () => {
  it('lays two charts side by side under one heading', () => {
    const svg = renderTwoPanels('Both', chart('left', 1), chart('right', 2));
    expect(svg).toContain('width="1280" height="432"');
    expect(svg).toContain('<text class="heading" x="640" y="22"');
    expect(svg).toContain('<g class="chart" transform="translate(0,32)">');
    expect(svg).toContain('<g class="chart" transform="translate(640,32)">');
    expect(svg.match(/<g class="chart"/g)).toHaveLength(2);
    expect(svg.indexOf('>left</text>')).toBeLessThan(svg.indexOf('>right</text>'));
  });

  it('wraps into rows of `columns`', () => {
    const svg = renderPanels({
      title: 'Grid',
      columns: 2,
      panelSize: { width: 300, height: 200 },
      panels: [chart('a', 1), chart('b', 1), chart('c', 1)],
    });
    expect(svg).toContain('width="600" height="432"');
    expect(svg).toContain('<g class="chart" transform="translate(0,232)">');
  });
});
