/**
 * longseq/models for browsers and other non-Node hosts: load a Hugging Face Mamba or Mamba-2 checkpoint from a
 * URL (or your own bytes) and run it. Node resolves index.node.ts, which also reads folders on disk.
 *
 *   const model = await loadModel('https://huggingface.co/state-spaces/mamba-130m-hf/resolve/main/');
 *   const logits = await model.forward([[1, 2, 3]]);
 *   const [tokens] = await model.generate([[1, 2, 3]], { maxNewTokens: 20 });
 *
 * Token ids in, token ids out: pair it with a tokenizer such as @huggingface/tokenizers.
 */
import { init } from '../index.js';
import type { ModelFiles } from './checkpoint.js';
import { modelFromFiles, urlFiles, type LoadModelOptions, type Model } from './load.js';

export * from './exports.js';

/** A checkpoint from a base URL, or from a ModelFiles of your own. */
export async function loadModel(source: string | URL | ModelFiles, options: LoadModelOptions = {}): Promise<Model> {
  const files = typeof source === 'object' && 'read' in source ? source : urlFiles(new URL(String(source), globalThis.location?.href), options.onProgress);
  return modelFromFiles(files, options.ls ?? (await init()));
}
