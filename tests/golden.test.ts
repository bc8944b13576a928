// End-to-end check of the whole model against the fixtures' independent reference
// (transformers DeepseekV32ForCausalLM in float64): logits, hidden states, top-k selections,
// and greedy decoding with the KV cache.
import type { BackendFactory } from '@dsa/backend';
import cpuBackendFactory from '@dsa/backend-cpu';
import referenceBackendFactory from '@dsa/backend-reference';
import { describeFixture } from './fixture-suite.js';

// Every backend is held to the same bar: the reference backend (composite fallbacks) and the native
// CPU backend (its own kernels and the fused ones the model picks up).
const BACKENDS: BackendFactory[] = [referenceBackendFactory, cpuBackendFactory];

for (const factory of BACKENDS)
  for (const fixture of ['tiny', 'tiny-fp8']) {
    describeFixture(fixture, {
      label: factory.name,
      create: async () => {
        const probe = await factory.probe();
        if (probe.score <= 0) throw new Error(`backend ${factory.name} cannot run: ${probe.reason}`);
        return factory.create();
      },
    });
  }
