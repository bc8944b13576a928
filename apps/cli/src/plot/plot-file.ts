import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '@dsa/runtime';
import { UsageError } from '../usage-error.js';

/**
 * Checks a `--plot FILE.svg` argument before any work is done: it must end in `.svg` and its folder
 * must exist. Throws a {@link UsageError} naming the flag and the value.
 */
export function checkPlotFile(file: string, flag = '--plot'): void {
  if (path.extname(file).toLowerCase() !== '.svg')
    throw new UsageError(`${flag} "${file}": the plot is an SVG file, give a name ending in .svg`);
  const folder = path.dirname(path.resolve(file));
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory())
    throw new UsageError(`${flag} "${file}": folder ${folder} does not exist`);
}

/** Writes an SVG document atomically (a reader never sees half a plot). */
export async function writePlot(file: string, svg: string): Promise<void> {
  await writeFileAtomic(file, svg);
}
