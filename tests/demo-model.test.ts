// The shipped dsa-demo model (packages/demo-model, trained on an H200 by tools/demo-model/train_demo.py): the
// engine reproduces the trainer's own outputs on the fp8 weights as exported (fixtures/demo-model/golden*.safetensors:
// logits sparse and dense, top-k selections, selected mass) and its greedy chat answers (greedy-chat.json).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import cpuBackendFactory from '@dsa/backend-cpu';
import referenceBackendFactory from '@dsa/backend-reference';
import { DeepseekModel, Engine, renderChatPrompt, Tokenizer } from '@dsa/runtime';
import { describe, expect, it } from 'vitest';
import { expectTrainerGolden } from './trainer-golden.js';

const root = path.resolve(import.meta.dirname, '..');
const dir = path.join(root, 'packages/demo-model');
const goldens = path.join(root, 'fixtures/demo-model');

describe('@dsa/demo-model: the trainer goldens', () => {
  for (const factory of [referenceBackendFactory, cpuBackendFactory]) {
    for (const file of ['golden.safetensors', 'golden-chat.safetensors']) {
      it(`${factory.name}, ${file}: logits within 2e-3 of the trainer's, same top-k, same selected mass`, async () => {
        const agreement = await expectTrainerGolden(
          factory,
          dir,
          { logits: 2e-3, mass: 1e-4 },
          path.join(goldens, file),
        );
        console.log(`trainer golden (demo ${file}, ${factory.name}): ${JSON.stringify(agreement)}`);
        expect(agreement.rowsCompared).toBeGreaterThan(0);
      }, 300_000);
    }
  }
});

describe('@dsa/demo-model: chat', () => {
  it("answers chat prompts with the trainer's greedy tokens on the shipped weights (cpu)", async () => {
    // tools/demo-model/greedy_golden.py: the trainer's greedy answers in f32 on the fp8 weights as shipped.
    const golden = JSON.parse(await readFile(path.join(goldens, 'greedy-chat.json'), 'utf8')) as {
      answers: { question: string; prompt_ids: number[]; answer_ids: number[]; text: string }[];
    };
    const tokenizer = await Tokenizer.fromFolder(dir);
    const backend = await cpuBackendFactory.create();
    const model = await DeepseekModel.load(backend, dir, { cacheTokens: 4096 });
    const engine = new Engine(model, { tokenizer });
    try {
      for (const answer of golden.answers) {
        const prompt = tokenizer.encode(
          renderChatPrompt(tokenizer, [{ role: 'user', content: answer.question }], { thinking: 'chat' }),
        );
        expect(prompt).toEqual(answer.prompt_ids);
        const ids: number[] = [];
        let text = '';
        for await (const event of engine.generate({
          prompt,
          maxTokens: answer.answer_ids.length,
          sampling: { temperature: 0 },
        })) {
          if (event.type === 'token') ids.push(event.id);
          text += event.text ?? '';
        }
        expect(ids).toEqual(answer.answer_ids);
        expect(text).toBe(answer.text);
      }
    } finally {
      await engine.close();
      model.dispose();
      backend.dispose();
    }
  }, 300_000);
});
