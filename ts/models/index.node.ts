/**
 * longseq/models for Node.js: as index.ts, and a folder on disk as the source (a local copy of a Hugging Face
 * repository: config.json, model.safetensors or its shards).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { init } from '../index.node.js';
import type { ModelFiles } from './checkpoint.js';
import { modelFromFiles, urlFiles, type LoadModelOptions, type Model } from './load.js';

export * from './exports.js';

/** The files of a folder; a missing file is undefined, other read errors throw. */
export function folderFiles(folder: string): ModelFiles {
  return {
    async read(name) {
      try {
        return new Uint8Array(await readFile(join(folder, name)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
  };
}

/** A checkpoint from a folder path, an http(s) URL, or a ModelFiles of your own. */
export async function loadModel(source: string | URL | ModelFiles, options: LoadModelOptions = {}): Promise<Model> {
  let files: ModelFiles;
  if (typeof source === 'object' && 'read' in source) files = source;
  else if (source instanceof URL ? source.protocol !== 'file:' : /^https?:\/\//.test(source)) files = urlFiles(new URL(String(source)), options.onProgress);
  else files = folderFiles(source instanceof URL ? source.pathname : source);
  return modelFromFiles(files, options.ls ?? (await init()));
}
