import type { ModelConfig, RopeConfig } from './model-config.js';

const f = Math.fround;

function yarnMscale(scale: number, mscale: number): number {
  return scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;
}

/**
 * Rotary inverse frequencies for `dim` rotary dimensions, with YaRN scaling when configured,
 * computed step by step in f32 as the reference (transformers' `_compute_yarn_parameters`) does.
 * Returns the [dim/2] frequencies and the attention factor that multiplies cos and sin.
 */
export function ropeFrequencies(
  rope: RopeConfig,
  dim: number,
): {
  /** f32 [dim/2]: inverse frequency of each rotary pair. */
  invFreq: Float32Array;
  /** Multiplies cos and sin (YaRN mscale; 1 for plain RoPE). */
  attentionFactor: number;
} {
  const half = dim / 2;
  const posFreqs = Float32Array.from({ length: half }, (_, i) => f(rope.theta ** f((2 * i) / dim)));
  const extrapolation = posFreqs.map((p) => f(1 / p));
  if (rope.type === 'default') return { invFreq: extrapolation, attentionFactor: 1 };
  const interpolation = posFreqs.map((p) => f(1 / f(rope.factor * p)));
  const correctionDim = (rotations: number) =>
    (dim * Math.log(rope.originalMaxPositionEmbeddings / (rotations * 2 * Math.PI))) /
    (2 * Math.log(rope.theta));
  let low = correctionDim(rope.betaFast);
  let high = correctionDim(rope.betaSlow);
  if (rope.truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const ramp = Math.min(1, Math.max(0, f(f(i - low) / f(high - low))));
    const extrapolationFactor = f(1 - ramp);
    invFreq[i] = f(
      f(interpolation[i]! * f(1 - extrapolationFactor)) + f(extrapolation[i]! * extrapolationFactor),
    );
  }
  let attentionFactor = rope.attentionFactor;
  if (attentionFactor === undefined) {
    attentionFactor =
      rope.mscale && rope.mscaleAllDim
        ? yarnMscale(rope.factor, rope.mscale) / yarnMscale(rope.factor, rope.mscaleAllDim)
        : yarnMscale(rope.factor, 1);
  }
  return { invFreq, attentionFactor };
}

/**
 * The MLA softmax scale: (qk_nope + qk_rope)^-0.5, times mscale² under YaRN with `mscale_all_dim`
 * (spec §3.3: 0.1352338 for the 671B model).
 */
export function mlaSoftmaxScale(config: ModelConfig): number {
  let scale = (config.qkNopeHeadDim + config.qkRopeHeadDim) ** -0.5;
  if (config.rope.type !== 'default' && config.rope.mscaleAllDim) {
    const m = yarnMscale(config.rope.factor, config.rope.mscaleAllDim);
    scale *= m * m;
  }
  return scale;
}
