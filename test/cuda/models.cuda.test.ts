/**
 * longseq/models on the cuda backend (`npm run test:cuda`; skipped, saying why, where CUDA cannot run): the tiny
 * golden checkpoints' logits, and prefill + steps == forward. The selective and SSD scans run as the cuda
 * backend runs them (the selective scan on the GPU; ops without CUDA kernels on the CPU).
 */
import { describe, test } from 'vitest';
import { available, tensor } from '../../ts/index.node.js';
import { loadModel } from '../../ts/models/index.node.js';
import { backend } from '../helpers/backends.js';
import { expectClose } from '../helpers/compare.js';
import { goldenModelFolder, goldenModelIo, haveGoldenModels } from '../helpers/models.js';

const status = (await available()).find((s) => s.name === 'cuda')!;
const ready = status.available && haveGoldenModels;
const run = ready ? test : test.skip;

describe(`models on cuda${status.available ? '' : ` (skipped: ${status.reason})`}`, () => {
  for (const name of ['mamba-tiny', 'mamba2-tiny']) {
    run(`${name}: logits match transformers, and prefill + steps match forward`, async () => {
      const model = await loadModel(goldenModelFolder(name), { ls: await backend('cuda') });
      const { ids, logits: expected } = goldenModelIo(name);
      const L = ids[0]!.length;
      const logits = await model.forward(ids);
      expectClose(`${name} logits`, logits, expected, 1e-4);
      const V = model.vocabSize;
      const { state } = await model.prefill([ids[0]!.slice(0, 10)]);
      for (let t = 10; t < L; t++) {
        expectClose(`step ${t}`, await model.step(state, [ids[0]![t]!]), tensor(logits.data.slice(t * V, (t + 1) * V), [1, V]), 1e-4);
      }
    });
  }
});
