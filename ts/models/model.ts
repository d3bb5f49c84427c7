/**
 * What Mamba and Mamba-2 causal LMs share: forward over a batch of equal-length sequences, and generation
 * (each prompt prefilled on its own with the full ops, then one *Step per token for the whole batch, with a
 * per-sequence cache of constant size: the conv window and the scan state of every layer).
 */
import type { LongSeq } from '../longseq.js';
import { tensor, type Tensor } from '../tensor.js';
import type { Checkpoint } from './checkpoint.js';
import { integer, number } from './config.js';
import { embed, rmsNorm } from '../layers.js';

/** One layer's decode cache for a batch: conv window [B, C, W−1] and scan state, both updated in place. */
export interface LayerCache {
  conv: Float32Array;
  ssm: Float32Array;
}

export interface GenerateOptions {
  /** Tokens to generate per sequence (at most; fewer when it ends with eosTokenId). */
  maxNewTokens: number;
  /** 0 (the default): greedy. Otherwise logits / temperature, then topK / topP, then a draw. */
  temperature?: number;
  /** Keep only the k most likely tokens (0: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1: all). */
  topP?: number;
  /** Seed of the sampler's random numbers (default 0): the same seed gives the same tokens. */
  seed?: number;
  /** A sequence that produces this token stops (default: the config's eos_token_id; null: never). */
  eosTokenId?: number | null;
  /** Stops generation between tokens; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called after each step with the new token of every still-running sequence (-1 for finished ones). */
  onToken?: (tokens: readonly number[], step: number) => void;
}

/** mulberry32 */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The next token from one row of logits. */
export function sampleToken(logits: Float32Array, options: GenerateOptions, draw: () => number): number {
  const temperature = options.temperature ?? 0;
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  if (temperature === 0) return best;
  const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!);
  const topK = options.topK && options.topK > 0 ? Math.min(options.topK, order.length) : order.length;
  const probs = order.slice(0, topK).map((i) => Math.exp((logits[i]! - logits[best]!) / temperature));
  const total = probs.reduce((a, b) => a + b, 0);
  const topP = options.topP ?? 1;
  let kept = probs.length;
  if (topP < 1) {
    let mass = 0;
    for (kept = 0; kept < probs.length && mass < topP * total; kept++) mass += probs[kept]!;
  }
  const keptTotal = probs.slice(0, kept).reduce((a, b) => a + b, 0);
  let u = draw() * keptTotal;
  for (let i = 0; i < kept; i++) {
    u -= probs[i]!;
    if (u < 0) return order[i]!;
  }
  return order[kept - 1]!;
}

function checkIds(op: string, ids: unknown): number[][] {
  if (!Array.isArray(ids) || ids.length === 0) throw new TypeError(`${op}: inputIds must be a non-empty array of token id arrays`);
  return ids.map((seq, b) => {
    const list = Array.from(seq as ArrayLike<number>);
    if (!(seq instanceof Int32Array || Array.isArray(seq)) || list.length === 0 || list.some((v) => !Number.isInteger(v))) {
      throw new TypeError(`${op}: inputIds[${b}] must be a non-empty array of integer token ids`);
    }
    return list;
  });
}

function checkOptions(options: GenerateOptions): void {
  if (!Number.isInteger(options?.maxNewTokens) || options.maxNewTokens < 0) {
    throw new RangeError(`generate: maxNewTokens must be an integer >= 0, got ${String(options?.maxNewTokens)}`);
  }
  const t = options.temperature ?? 0;
  if (!(Number.isFinite(t) && t >= 0)) throw new RangeError(`generate: temperature must be a finite number >= 0, got ${t}`);
  const p = options.topP ?? 1;
  if (!(p > 0 && p <= 1)) throw new RangeError(`generate: topP must be in (0, 1], got ${p}`);
  const k = options.topK ?? 0;
  if (!(Number.isInteger(k) && k >= 0)) throw new RangeError(`generate: topK must be an integer >= 0, got ${k}`);
}

export abstract class CausalLM {
  readonly config: Readonly<Record<string, unknown>>;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  readonly numLayers: number;
  /** RMSNorm epsilon (config layer_norm_epsilon). */
  protected readonly eps: number;
  readonly #embedding: Float32Array;
  readonly #lmHead: Tensor;
  readonly #normF: Float32Array;

  /** Reads what every Mamba-family checkpoint has: sizes, the embedding, the final norm and the LM head. */
  protected constructor(
    readonly ls: LongSeq,
    checkpoint: Checkpoint,
  ) {
    const c = checkpoint.config;
    this.config = c;
    const [H, V] = [integer(c, 'hidden_size'), integer(c, 'vocab_size')];
    [this.hiddenSize, this.vocabSize, this.numLayers] = [H, V, integer(c, 'num_hidden_layers')];
    this.eps = number(c, 'layer_norm_epsilon', 1e-5);
    this.#embedding = checkpoint.weight('backbone.embeddings.weight', [V, H]);
    // Tied to the embedding unless the checkpoint has a head of its own.
    this.#lmHead = tensor(checkpoint.has('lm_head.weight') ? checkpoint.weight('lm_head.weight', [V, H]) : this.#embedding, [V, H]);
    this.#normF = checkpoint.weight('backbone.norm_f.weight', [H]);
  }

  /** The residual stream's start: token embeddings [ids, hidden]. */
  protected embed(ids: Int32Array): Float32Array {
    return embed(ids, this.#embedding, this.hiddenSize);
  }

  /** The final RMSNorm and the LM head: logits [rows, vocab]. */
  protected head(residual: Float32Array): Promise<Float32Array> {
    return this.project(rmsNorm(residual, this.hiddenSize, this.#normF, this.eps), this.#lmHead);
  }

  /** Rows of x [rows, in] through a linear layer weight [out, in] on the backend: [rows, out]. */
  protected async project(x: Float32Array, weight: Tensor): Promise<Float32Array> {
    const inFeatures = weight.shape[1]!;
    return (await this.ls.linear({ x: tensor(x, [x.length / inFeatures, inFeatures]), weight })).y.data;
  }

  /** Logits [batch·length, vocab] of a batch of equal-length sequences, and each layer's cache after them. */
  protected abstract runLayers(ids: Int32Array, batch: number, length: number): Promise<{ logits: Float32Array; cache: LayerCache[] }>;

  /** One token per sequence through every layer, updating `cache` in place: logits [batch, vocab]. */
  protected abstract stepLayers(tokens: Int32Array, cache: LayerCache[], batch: number): Promise<Float32Array>;

  /** Logits [B, L, vocab] for token ids [B][L] (sequences of one length). */
  async forward(inputIds: readonly (readonly number[] | Int32Array)[]): Promise<Tensor> {
    const ids = checkIds('forward', inputIds);
    const length = ids[0]!.length;
    if (ids.some((s) => s.length !== length)) throw new RangeError('forward: every sequence of inputIds must have the same length');
    const { logits } = await this.runLayers(Int32Array.from(ids.flat()), ids.length, length);
    return tensor(logits, [ids.length, length, this.vocabSize]);
  }

  /**
   * Runs each prompt (they may differ in length) through the model, each alone so no padding enters a state,
   * and returns the logits of its last token [B, vocab] and the decode state of the batch for step().
   */
  async prefill(prompts: readonly (readonly number[] | Int32Array)[], signal?: AbortSignal): Promise<{ logits: Tensor; state: DecodeState }> {
    const ids = checkIds('prefill', prompts);
    const last = new Float32Array(ids.length * this.vocabSize);
    const caches: LayerCache[][] = [];
    for (let b = 0; b < ids.length; b++) {
      signal?.throwIfAborted();
      const prompt = ids[b]!;
      const { logits, cache } = await this.runLayers(Int32Array.from(prompt), 1, prompt.length);
      last.set(logits.subarray((prompt.length - 1) * this.vocabSize), b * this.vocabSize);
      caches.push(cache);
    }
    const layers = caches[0]!.map((_, layer) => ({
      conv: concat(caches.map((c) => c[layer]!.conv)),
      ssm: concat(caches.map((c) => c[layer]!.ssm)),
    }));
    return { logits: tensor(last, [ids.length, this.vocabSize]), state: new DecodeState(layers, ids.length) };
  }

  /** One token per sequence of `state`'s batch: logits [B, vocab]; `state` advances in place. */
  async step(state: DecodeState, tokens: readonly number[] | Int32Array): Promise<Tensor> {
    if (!(state instanceof DecodeState)) throw new TypeError('step: state must come from prefill()');
    if (tokens.length !== state.batch) throw new RangeError(`step: tokens must hold one id per sequence (${state.batch}), got ${tokens.length}`);
    const logits = await this.stepLayers(Int32Array.from(tokens), state.layers, state.batch);
    return tensor(logits, [state.batch, this.vocabSize]);
  }

  /**
   * Continues each prompt (they may differ in length) and resolves to the new token ids of each. Greedy by
   * default; see GenerateOptions for sampling.
   */
  async generate(prompts: readonly (readonly number[] | Int32Array)[], options: GenerateOptions): Promise<number[][]> {
    const ids = checkIds('generate', prompts);
    checkOptions(options);
    const eos = options.eosTokenId === undefined ? (this.config.eos_token_id as number | undefined) ?? null : options.eosTokenId;
    const batch = ids.length;
    const out: number[][] = ids.map(() => []);
    if (options.maxNewTokens === 0) return out;
    const { logits: first, state } = await this.prefill(ids, options.signal);
    let logits = first.data;
    const draw = random(options.seed ?? 0);
    const done = new Array<boolean>(batch).fill(false);
    for (let step = 0; step < options.maxNewTokens; step++) {
      options.signal?.throwIfAborted();
      const tokens = new Int32Array(batch);
      for (let b = 0; b < batch; b++) {
        tokens[b] = sampleToken(logits.subarray(b * this.vocabSize, (b + 1) * this.vocabSize), options, draw);
        if (done[b]) continue;
        out[b]!.push(tokens[b]!);
        if (eos !== null && tokens[b] === eos) done[b] = true;
      }
      options.onToken?.(Array.from(tokens, (t, b) => (out[b]!.length === step + 1 ? t : -1)), step);
      if (done.every(Boolean) || step + 1 === options.maxNewTokens) break;
      logits = (await this.step(state, tokens)).data;
    }
    return out;
  }
}

/** The per-sequence decode cache of a batch: each layer's conv window and scan state (constant size). */
export class DecodeState {
  /** @internal */
  constructor(
    readonly layers: LayerCache[],
    readonly batch: number,
  ) {}
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
