/** The tiny golden checkpoints (../shared/golden/models/<name>) and their io.safetensors. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, type Tensor } from '../../ts/index.node.js';
import { goldenDir } from './golden.js';

export const GOLDEN_MODELS = ['mamba-tiny', 'mamba2-tiny'] as const;

export function goldenModelFolder(name: string): string {
  return join(goldenDir ?? '', 'models', name);
}

/** Whether the golden folder has every tiny model. */
export const haveGoldenModels = goldenDir !== undefined && GOLDEN_MODELS.every((m) => existsSync(join(goldenModelFolder(m), 'config.json')));

/** input_ids [B][L] (int32 in the file) and expect.logits [B, L, V]. */
export function goldenModelIo(name: string): { ids: number[][]; logits: Tensor } {
  const file = readSafetensors(new Uint8Array(readFileSync(join(goldenModelFolder(name), 'io.safetensors'))));
  const entry = file.entries.get('input_ids')!;
  const flat = new Int32Array(entry.bytes.slice().buffer);
  const [B, L] = entry.shape as [number, number];
  const ids = Array.from({ length: B }, (_, b) => Array.from(flat.subarray(b * L, (b + 1) * L)));
  return { ids, logits: file.tensor('expect.logits') };
}
