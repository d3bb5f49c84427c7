/**
 * longseq/models: the tiny Mamba and Mamba-2 checkpoints of the golden folder (made by transformers in float64)
 * on every backend, prefill + steps == forward, generation, and the loader's errors.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tensor } from '../ts/index.node.js';
import { loadModel, type Model } from '../ts/models/index.node.js';
import { backend, testBackends } from './helpers/backends.js';
import { expectClose } from './helpers/compare.js';
import { goldenDir } from './helpers/golden.js';
import { GOLDEN_MODELS, goldenModelFolder, goldenModelIo, haveGoldenModels } from './helpers/models.js';

test.skipIf(!goldenDir)('the golden folder has the tiny models', () => {
  for (const m of GOLDEN_MODELS) expect(existsSync(join(goldenModelFolder(m), 'config.json')), m).toBe(true);
});

describe.each(testBackends)('models on $name', (b) => {
  const run = b.available && haveGoldenModels ? test : test.skip;

  for (const name of GOLDEN_MODELS) {
    run(`${name}: logits match transformers (float64) within 1e-4`, async () => {
      const model = await loadModel(goldenModelFolder(name), { ls: await backend(b.name) });
      const { ids, logits } = goldenModelIo(name);
      expectClose(`${name} logits`, await model.forward(ids), logits, 1e-4);
    });

    run(`${name}: prefill, then one step per token, gives the logits of one forward`, async () => {
      const model = await loadModel(goldenModelFolder(name), { ls: await backend(b.name) });
      const seq = goldenModelIo(name).ids[1]!;
      const full = await model.forward([seq]);
      const V = model.vocabSize;
      const row = (t: number) => tensor(full.data.slice(t * V, (t + 1) * V), [1, V]);
      const split = 11;
      const { logits, state } = await model.prefill([seq.slice(0, split)]);
      expectClose('prefill', logits, row(split - 1), 1e-4);
      for (let t = split; t < seq.length; t++) expectClose(`step ${t}`, await model.step(state, [seq[t]!]), row(t), 1e-4);
    });
  }
});

describe.skipIf(!haveGoldenModels)('generation (native, else js)', () => {
  const ls = () => backend(testBackends.find((b) => b.name === 'native')!.available ? 'native' : 'js');
  let model: Model;

  test('greedy tokens are the argmax of a forward over the prompt and what came before', async () => {
    model = await loadModel(goldenModelFolder('mamba2-tiny'), { ls: await ls() });
    const prompt = [5, 17, 33, 2, 9];
    const [tokens] = await model.generate([prompt], { maxNewTokens: 6, eosTokenId: null });
    expect(tokens).toHaveLength(6);
    const logits = await model.forward([[...prompt, ...tokens!.slice(0, -1)]]);
    const V = model.vocabSize;
    tokens!.forEach((token, i) => {
      const rowStart = (prompt.length - 1 + i) * V;
      const row = logits.data.subarray(rowStart, rowStart + V);
      expect(token, `token ${i}`).toBe(row.indexOf(Math.max(...row)));
    });
  });

  test('a batch of prompts of different lengths gives what each gives alone', async () => {
    const m = await loadModel(goldenModelFolder('mamba-tiny'), { ls: await ls() });
    const prompts = [[1, 2, 3], [40, 41, 42, 43, 44, 45, 46], [7]];
    const options = { maxNewTokens: 5, temperature: 0.8, topK: 20, topP: 0.9, seed: 3, eosTokenId: null };
    const together = await m.generate(prompts, { ...options, temperature: 0 });
    for (let i = 0; i < prompts.length; i++) expect((await m.generate([prompts[i]!], { ...options, temperature: 0 }))[0]).toEqual(together[i]);
    const sampled = await m.generate(prompts, options);
    expect(await m.generate(prompts, options)).toEqual(sampled); // the same seed, the same tokens
    const seen: number[][] = [];
    await m.generate(prompts, { ...options, onToken: (t) => seen.push([...t]) });
    expect(seen).toHaveLength(5);
  });

  test('stops at eos, on abort, and rejects bad arguments', async () => {
    const m = model;
    const [free] = await m.generate([[3, 4]], { maxNewTokens: 4, eosTokenId: null });
    const [stopped] = await m.generate([[3, 4]], { maxNewTokens: 4, eosTokenId: free![1]! });
    expect(stopped).toEqual(free!.slice(0, free!.indexOf(free![1]!) + 1));
    const controller = new AbortController();
    controller.abort();
    await expect(m.generate([[1]], { maxNewTokens: 3, signal: controller.signal })).rejects.toThrow(/abort/i);
    await expect(m.generate([[1]], { maxNewTokens: -1 })).rejects.toThrow(RangeError);
    await expect(m.generate([[]], { maxNewTokens: 1 })).rejects.toThrow(/inputIds\[0\] must be a non-empty array/);
    await expect(m.forward([[1, 999]])).rejects.toThrow(/token id 999 at position 1 is outside the vocabulary \[0, 96\)/);
    await expect(m.forward([[1, 2], [3]])).rejects.toThrow(/same length/);
  });

  test('the loader names what is wrong', async () => {
    const ls0 = await ls();
    await expect(loadModel('/nonexistent/folder', { ls: ls0 })).rejects.toThrow(/has no config.json/);
    const files = (config: object) => ({
      read: async (name: string) => {
        if (name === 'config.json') return new TextEncoder().encode(JSON.stringify(config));
        const path = join(goldenModelFolder('mamba-tiny'), name);
        return existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined;
      },
    });
    await expect(loadModel(files({ architectures: ['LlamaForCausalLM'] }), { ls: ls0 })).rejects.toThrow(/"LlamaForCausalLM" is not supported/);
    const config = JSON.parse(readFileSync(join(goldenModelFolder('mamba-tiny'), 'config.json'), 'utf8'));
    await expect(loadModel(files({ ...config, state_size: 8 }), { ls: ls0 })).rejects.toThrow(/loadModel: 'backbone.layers.0.mixer.x_proj.weight' has shape \[40, 128\], expected \[24, 128\] from config.json/);
  });
});
