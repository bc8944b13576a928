// An SVG plot of decode ms/token against depth, one line per engine (tools/peers/llama-cpp.mjs's decode.svg).

/**
 * An SVG line plot of decode ms/token against depth (log2 x axis) of `rows` (JSON lines of
 * tools/peers/llama-cpp.mjs with `engine`, `dtype`, `depth`, `tg_ms_median`), one line per engine and dtype.
 */
export function decodePlot(rows) {
  const label = (r) => `${r.engine} ${r.dtype}`;
  const width = 640;
  const height = 400;
  const margin = { left: 60, right: 220, top: 30, bottom: 50 };
  const engines = [...new Set(rows.map(label))];
  const depthsAll = rows.map((r) => Math.max(1, r.depth));
  const [x0, x1] = [Math.log2(Math.min(...depthsAll)), Math.log2(Math.max(...depthsAll))];
  const yMax = Math.max(...rows.map((r) => r.tg_ms_median)) * 1.1;
  const x = (d) =>
    margin.left +
    ((Math.log2(Math.max(1, d)) - x0) / Math.max(1e-9, x1 - x0)) * (width - margin.left - margin.right);
  const y = (v) => height - margin.bottom - (v / yMax) * (height - margin.top - margin.bottom);
  const colors = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>decode ms/token vs depth (${rows[0].preset}, ${rows[0].threads} threads)</title>`,
    `<text x="${width / 2 - 80}" y="18">decode ms/token vs depth (${rows[0].preset}, ${rows[0].threads} threads)</text>`,
    `<line x1="${margin.left}" y1="${y(0)}" x2="${width - margin.right}" y2="${y(0)}" stroke="black"/>`,
    `<line x1="${margin.left}" y1="${y(0)}" x2="${margin.left}" y2="${margin.top}" stroke="black"/>`,
  ];
  for (const d of [...new Set(depthsAll)])
    parts.push(`<text x="${x(d) - 12}" y="${height - margin.bottom + 16}">${d}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    parts.push(`<text x="8" y="${y(v) + 4}">${v.toFixed(1)}</text>`);
  }
  parts.push(`<text x="${width / 2 - 40}" y="${height - 12}">depth (tokens)</text>`);
  engines.forEach((engine, i) => {
    const points = rows.filter((r) => label(r) === engine).sort((a, b) => a.depth - b.depth);
    const color = colors[i % colors.length];
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((r) => `${x(r.depth)},${y(r.tg_ms_median)}`).join(' ')}"/>`,
    );
    for (const r of points)
      parts.push(`<circle cx="${x(r.depth)}" cy="${y(r.tg_ms_median)}" r="3" fill="${color}"/>`);
    parts.push(
      `<text x="${width - margin.right + 10}" y="${margin.top + 20 * i + 10}" fill="${color}">${engine}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
