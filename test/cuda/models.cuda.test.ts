/**
 * longseq/models on the cuda backend (`npm run test:cuda`; skipped, saying why, where CUDA cannot run): the tiny
 * golden checkpoints' logits, and prefill + steps == forward. The selective and SSD scans run as the cuda
 * backend runs them (the selective scan on the GPU; ops without CUDA kernels on the CPU).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'vitest';
import { available, readSafetensors, tensor } from '../../ts/index.node.js';
import { loadModel } from '../../ts/models/index.node.js';
import { backend } from '../helpers/backends.js';
import { expectClose } from '../helpers/compare.js';
import { goldenDir } from '../helpers/golden.js';

const status = (await available()).find((s) => s.name === 'cuda')!;
const folder = (name: string) => join(goldenDir ?? '', 'models', name);
const ready = status.available && goldenDir !== undefined && existsSync(folder('mamba-tiny'));
const run = ready ? test : test.skip;

describe(`models on cuda${status.available ? '' : ` (skipped: ${status.reason})`}`, () => {
  for (const name of ['mamba-tiny', 'mamba2-tiny']) {
    run(`${name}: logits match transformers, and prefill + steps match forward`, async () => {
      const model = await loadModel(folder(name), { ls: await backend('cuda') });
      const io = readSafetensors(new Uint8Array(readFileSync(join(folder(name), 'io.safetensors'))));
      const entry = io.entries.get('input_ids')!;
      const flat = new Int32Array(entry.bytes.slice().buffer);
      const [B, L] = entry.shape as [number, number];
      const ids = Array.from({ length: B }, (_, b) => Array.from(flat.subarray(b * L, (b + 1) * L)));
      const logits = await model.forward(ids);
      expectClose(`${name} logits`, logits, io.tensor('expect.logits'), 1e-4);
      const V = model.vocabSize;
      const { state } = await model.prefill([ids[0]!.slice(0, 10)]);
      for (let t = 10; t < L; t++) {
        expectClose(`step ${t}`, await model.step(state, [ids[0]![t]!]), tensor(logits.data.slice(t * V, (t + 1) * V), [1, V]), 1e-4);
      }
    });
  }
});
