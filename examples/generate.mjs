// The minimal generate script: load a checkpoint folder and generate tokens greedily.
// node examples/generate.mjs [model dir] [comma-separated prompt ids]
import { createBackend } from '@dsa/backend';
import { DeepseekModel, generate } from '@dsa/runtime';

const dir = process.argv[2] ?? 'fixtures/tiny';
const prompt = (process.argv[3] ?? '1,2,3').split(',').map(Number);
const backend = await createBackend({ backend: process.env.DSA_BACKEND ?? 'auto' });
const model = await DeepseekModel.load(backend, dir);
const tokens = [];
for await (const token of generate(model, { prompt, maxTokens: 8, stopTokenIds: [] })) tokens.push(token.id);
console.log(JSON.stringify({ backend: backend.name, tokens }));
model.dispose();
backend.dispose();
