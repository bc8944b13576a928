import { makeModel, PRESET_NAMES, presetConfig } from '@dsa/runtime';
import { parseChoice } from '../usage-error.js';

/** `dsa make-model`: a random checkpoint of a preset in the hub layout, for tests and benchmarks. */
export async function makeModelCommand(flags: {
  preset: string;
  out: string;
  dtype: 'bf16' | 'fp8';
  layers?: number;
  seed?: number;
  quiet?: boolean;
}): Promise<void> {
  const preset = parseChoice(flags.preset, '--preset', PRESET_NAMES);
  const started = performance.now();
  const { files, bytes } = await makeModel(flags.out, presetConfig(preset, flags.layers), {
    dtype: flags.dtype,
    seed: flags.seed ?? 0,
    ...(flags.quiet
      ? {}
      : {
          onTensor: (name: string, i: number, n: number) => {
            if (i % 50 === 0 || i === n - 1) process.stderr.write(`\r${i + 1}/${n} ${name}`.padEnd(90));
          },
        }),
  });
  if (!flags.quiet) {
    process.stderr.write(
      `\nwrote ${flags.out}: ${files.length} file(s), ${(bytes / 1e9).toFixed(3)} GB in ${((performance.now() - started) / 1000).toFixed(1)} s (random weights)\n`,
    );
  }
}
