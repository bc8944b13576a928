import type { DType } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { weightsLabel } from './weights-label.js';

const layers = (dtype: DType) => [{ self_attn: { o_proj: { weight: { dtype } } } }];

describe('weightsLabel', () => {
  it('names the layer weights as checkpoints do', () => {
    expect(weightsLabel(layers('bf16'))).toBe('bf16');
    expect(weightsLabel(layers('f8_e4m3'))).toBe('fp8');
    expect(weightsLabel(layers('i8'))).toBe('q8_0');
    expect(weightsLabel(layers('f32'))).toBe('f32');
    expect(weightsLabel(layers('f16'))).toBe('f16');
  });
  it('refuses a model without layers', () => {
    expect(() => weightsLabel([])).toThrow(/no layers/);
  });
});
