/** What both longseq/models entry points export besides loadModel. */
export type { ModelFiles } from './checkpoint.js';
export type { LoadModelOptions, LoadProgress, Model } from './load.js';
export type { GenerateOptions } from './model.js';
export { CausalLM, DecodeState } from './model.js';
export { MambaModel } from './mamba.js';
export { Mamba2Model } from './mamba2.js';
