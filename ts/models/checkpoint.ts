/**
 * Reading a Hugging Face checkpoint: config.json and the weights, one model.safetensors or shards listed in
 * model.safetensors.index.json; float32, bfloat16 and float16 weights all load as float32.
 */
import { readSafetensors, type SafetensorsFile } from '../io/safetensors.js';

/** Where a checkpoint's files come from: a folder on disk, a URL, or the caller's own bytes. */
export interface ModelFiles {
  /** The file's bytes, or undefined when there is no such file. */
  read(name: string): Promise<Uint8Array | undefined>;
}

export interface Checkpoint {
  config: Record<string, unknown>;
  /** The weight `name` as float32, checked against `shape`; a TypeError/RangeError names it otherwise. */
  weight(name: string, shape: readonly number[]): Float32Array;
  has(name: string): boolean;
}

export async function readCheckpoint(files: ModelFiles): Promise<Checkpoint> {
  const configBytes = await files.read('config.json');
  if (!configBytes) throw new TypeError('loadModel: the checkpoint has no config.json');
  const config = JSON.parse(new TextDecoder().decode(configBytes)) as Record<string, unknown>;
  const shards: SafetensorsFile[] = [];
  const index = await files.read('model.safetensors.index.json');
  if (index) {
    const map = (JSON.parse(new TextDecoder().decode(index)) as { weight_map?: Record<string, string> }).weight_map ?? {};
    for (const name of new Set(Object.values(map))) {
      const bytes = await files.read(name);
      if (!bytes) throw new TypeError(`loadModel: shard ${name}, listed in model.safetensors.index.json, is missing`);
      shards.push(readSafetensors(bytes));
    }
  } else {
    const bytes = await files.read('model.safetensors');
    if (!bytes) throw new TypeError('loadModel: the checkpoint has neither model.safetensors nor model.safetensors.index.json');
    shards.push(readSafetensors(bytes));
  }
  const find = (name: string) => shards.find((s) => s.entries.has(name));
  return {
    config,
    has: (name) => find(name) !== undefined,
    weight(name, shape) {
      const file = find(name);
      if (!file) throw new TypeError(`loadModel: the checkpoint has no tensor '${name}'`);
      const t = file.tensor(name);
      const size = shape.reduce((a, b) => a * b, 1);
      if (t.data.length !== size) {
        throw new RangeError(`loadModel: '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] from config.json`);
      }
      return t.data;
    },
  };
}
