/** loadModel's common part: which model class a checkpoint is, and files from URLs. */
import type { LongSeq } from '../longseq.js';
import { readCheckpoint, type ModelFiles } from './checkpoint.js';
import { MambaModel } from './mamba.js';
import { Mamba2Model } from './mamba2.js';

export type Model = MambaModel | Mamba2Model;

export interface LoadProgress {
  file: string;
  /** Bytes received so far. */
  loaded: number;
  /** The file's size, when the server says it. */
  total?: number;
}

export interface LoadModelOptions {
  /** The backend to run on (default: `await init()`, the best one available). */
  ls?: LongSeq;
  /** Called as each file arrives (URLs only). */
  onProgress?: (progress: LoadProgress) => void;
}

export async function modelFromFiles(files: ModelFiles, ls: LongSeq): Promise<Model> {
  const checkpoint = await readCheckpoint(files);
  const config = checkpoint.config;
  const architecture = Array.isArray(config.architectures) ? String(config.architectures[0]) : '';
  if (architecture === 'MambaForCausalLM' || (!architecture && config.model_type === 'mamba')) return new MambaModel(ls, checkpoint);
  if (architecture === 'Mamba2ForCausalLM' || (!architecture && config.model_type === 'mamba2')) return new Mamba2Model(ls, checkpoint);
  throw new TypeError(
    `loadModel: architecture ${JSON.stringify(architecture || config.model_type)} is not supported (MambaForCausalLM, Mamba2ForCausalLM)`,
  );
}

/** Files under a base URL (a Hugging Face "resolve/main/" URL, or any static folder). 404 means absent. */
export function urlFiles(base: URL, onProgress?: (progress: LoadProgress) => void): ModelFiles {
  const folder = new URL(base.href.endsWith('/') ? base.href : `${base.href}/`);
  return {
    async read(name) {
      const response = await fetch(new URL(name, folder));
      if (response.status === 404) return undefined;
      if (!response.ok || !response.body) throw new Error(`loadModel: ${name}: HTTP ${response.status} ${response.statusText}`);
      const total = Number(response.headers.get('content-length')) || undefined;
      const chunks: Uint8Array[] = [];
      let loaded = 0;
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        loaded += value.length;
        onProgress?.({ file: name, loaded, total });
      }
      const bytes = new Uint8Array(loaded);
      let offset = 0;
      for (const c of chunks) {
        bytes.set(c, offset);
        offset += c.length;
      }
      return bytes;
    },
  };
}
