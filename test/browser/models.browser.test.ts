/** Issue 11 in the page: the tiny Mamba-2 and Mamba checkpoints loaded from URLs, with progress, on wasm and js. */
import { describe, expect, inject, test } from 'vitest';
import { init, readSafetensors } from '../../ts/index.js';
import { loadModel, type LoadProgress } from '../../ts/models/index.js';
import { expectClose } from '../helpers/compare.js';

const goldenUrl = inject('goldenUrl');

describe.each(['wasm', 'js'] as const)('models on %s in the page', (name) => {
  test.skipIf(!goldenUrl).each(['mamba-tiny', 'mamba2-tiny'])('%s: logits from a URL match transformers', async (model) => {
    const base = `${location.origin}${goldenUrl}/models/${model}/`;
    const progress: LoadProgress[] = [];
    const m = await loadModel(base, { ls: await init({ backend: name }), onProgress: (p) => progress.push(p) });
    expect(progress.some((p) => p.file === 'model.safetensors' && p.loaded > 0)).toBe(true);
    const io = readSafetensors(new Uint8Array(await (await fetch(`${base}io.safetensors`)).arrayBuffer()));
    const entry = io.entries.get('input_ids')!;
    const flat = new Int32Array(entry.bytes.slice().buffer);
    const [B, L] = entry.shape as [number, number];
    const ids = Array.from({ length: B }, (_, b) => Array.from(flat.subarray(b * L, (b + 1) * L)));
    expectClose(`${model} logits`, await m.forward(ids), io.tensor('expect.logits'), 1e-4);
  });
});
