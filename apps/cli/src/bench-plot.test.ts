import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { capture } from './test-capture.js';

describe('dsa bench --plot', () => {
  it('draws decode and prefill against depth, one line per attention mode, from the measured values', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-bench-plot-'));
    const file = path.join(dir, 'bench.svg');
    const { code, stdout, stderr } = await capture(
      `bench --preset tiny --backend reference --json --depth 16,64 --attention sparse,dense --repeat 1 --prompt 8 --plot ${file}`.split(
        ' ',
      ),
    );
    expect(code).toBe(0);
    expect(stderr).toContain(`wrote ${file}`);
    const rows = stdout
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as { attention: string; depth: number; tg_ms_median: number; pp_tok_s: number },
      );
    expect(rows).toHaveLength(4);
    const svg = fs.readFileSync(file, 'utf8');
    expect(svg).toContain('>dsa bench: tiny</text>');
    for (const attention of ['sparse', 'dense']) {
      const series = [
        ...svg.matchAll(new RegExp(`data-name="reference · ${attention} · bf16">([^]*?)</g>`, 'g')),
      ];
      expect(series).toHaveLength(2); // decode panel, prefill panel
      const [decode, prefill] = series.map((m) =>
        [...m[1]!.matchAll(/data-x="(\d+)" data-y="([^"]+)"/g)].map((p) => [Number(p[1]), Number(p[2])]),
      );
      const measured = rows.filter((r) => r.attention === attention);
      expect(decode!.map((p) => p[0])).toEqual([16, 64]);
      for (const [i, row] of measured.entries()) {
        expect(decode![i]![1]).toBeCloseTo(row.tg_ms_median, 2);
        expect(prefill![i]![1]).toBeCloseTo(row.pp_tok_s, 1);
      }
    }
    fs.rmSync(dir, { recursive: true });
  }, 120_000);

  it('rejects a plot file that is not .svg or whose folder is missing, before measuring', async () => {
    const png = await capture(['bench', '--preset', 'tiny', '--plot', 'out.png']);
    expect(png.code).toBe(2);
    expect(png.stderr).toContain('--plot "out.png": the plot is an SVG file, give a name ending in .svg');
    const missing = await capture(['bench', '--preset', 'tiny', '--plot', '/no/such/folder/b.svg']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('folder /no/such/folder does not exist');
  });
});
