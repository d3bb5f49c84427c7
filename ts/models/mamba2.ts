/**
 * Mamba-2 (transformers' Mamba2ForCausalLM): per layer, RMSNorm → in_proj → [z | xBC | dt]; xBC through the
 * causal conv1d and SiLU, then split into x (heads × head_dim), B and C (groups × state); the SSD scan (softplus
 * of dt + dt_bias, clamped to time_step_limit; D per head); the gated RMSNorm with z; out_proj; residual. Then
 * the final RMSNorm and the LM head.
 */
import type { LongSeq } from '../longseq.js';
import { tensor, type Tensor } from '../tensor.js';
import type { Checkpoint } from './checkpoint.js';
import { float, integer } from './config.js';
import { addInto, columns, gatedRmsNorm, negExp, rmsNorm, toChannels, toRows } from '../layers.js';
import { CausalLM, type LayerCache } from './model.js';

interface Mamba2Layer {
  norm: Float32Array;
  inProj: Tensor;
  convWeight: Tensor;
  convBias?: Tensor;
  A: Tensor;
  D: Tensor;
  dtBias: Tensor;
  gateNorm: Float32Array;
  outProj: Tensor;
}

export class Mamba2Model extends CausalLM {
  readonly innerSize: number;
  readonly heads: number;
  readonly headDim: number;
  readonly groups: number;
  readonly stateSize: number;
  readonly convWidth: number;
  readonly #dtLimit: [number, number];
  readonly #layers: Mamba2Layer[];

  constructor(ls: LongSeq, checkpoint: Checkpoint) {
    super(ls, checkpoint);
    const c = checkpoint.config;
    const H = this.hiddenSize;
    const I = integer(c, 'intermediate_size', integer(c, 'expand', 2) * H);
    const heads = integer(c, 'num_heads');
    const P = integer(c, 'head_dim');
    const G = integer(c, 'n_groups', 1);
    const N = integer(c, 'state_size', 128);
    const W = integer(c, 'conv_kernel', 4);
    if (heads * P !== I) throw new RangeError(`loadModel: num_heads · head_dim = ${heads * P} must equal the inner size ${I}`);
    if (heads % G !== 0) throw new RangeError(`loadModel: num_heads ${heads} must be a multiple of n_groups ${G}`);
    [this.innerSize, this.heads, this.headDim, this.groups, this.stateSize, this.convWidth] = [I, heads, P, G, N, W];
    const limit = (c.time_step_limit as unknown[] | undefined) ?? [0, Infinity];
    this.#dtLimit = [float(limit[0]), float(limit[1])];
    if (!(this.#dtLimit[0] <= this.#dtLimit[1])) throw new TypeError(`loadModel: config.json's time_step_limit is not a range: ${JSON.stringify(limit)}`);
    const conv = I + 2 * G * N;
    const w = (name: string, shape: number[]) => checkpoint.weight(name, shape);
    this.#layers = Array.from({ length: this.numLayers }, (_, l) => {
      const p = `backbone.layers.${l}.`;
      const m = `${p}mixer.`;
      return {
        norm: w(`${p}norm.weight`, [H]),
        inProj: tensor(w(`${m}in_proj.weight`, [I + conv + heads, H]), [I + conv + heads, H]),
        convWeight: tensor(w(`${m}conv1d.weight`, [conv, 1, W]), [conv, W]),
        convBias: checkpoint.has(`${m}conv1d.bias`) ? tensor(w(`${m}conv1d.bias`, [conv]), [conv]) : undefined,
        A: tensor(negExp(w(`${m}A_log`, [heads])), [heads]),
        D: tensor(w(`${m}D`, [heads]), [heads]),
        dtBias: tensor(w(`${m}dt_bias`, [heads]), [heads]),
        gateNorm: w(`${m}norm.weight`, [I]),
        outProj: tensor(w(`${m}out_proj.weight`, [H, I]), [H, I]),
      };
    });
  }

  protected async runLayers(ids: Int32Array, batch: number, length: number): Promise<{ logits: Float32Array; cache: LayerCache[] }> {
    const { hiddenSize: H, innerSize: I, heads, headDim: P, groups: G, stateSize: N } = this;
    const conv = I + 2 * G * N;
    const width = I + conv + heads;
    const residual = this.embed(ids);
    const cache: LayerCache[] = [];
    for (const layer of this.#layers) {
      const proj = await this.project(rmsNorm(residual, H, layer.norm, this.eps), layer.inProj);
      const xBC = await this.ls.causalConv1d({
        x: tensor(toChannels(proj, batch, length, width, I, conv), [batch, conv, length]),
        weight: layer.convWeight, bias: layer.convBias, activation: 'silu', returnFinalState: true,
      });
      const rows = toRows(xBC.y.data, batch, conv, length);
      const scan = await this.ls.ssdScan({
        x: tensor(columns(rows, conv, 0, I), [batch, length, heads, P]),
        dt: tensor(columns(proj, width, I + conv, heads), [batch, length, heads]), A: layer.A,
        B: tensor(columns(rows, conv, I, G * N), [batch, length, G, N]),
        C: tensor(columns(rows, conv, I + G * N, G * N), [batch, length, G, N]),
        D: layer.D, dtBias: layer.dtBias, dtSoftplus: true, dtLimit: this.#dtLimit, returnFinalState: true,
      });
      const gated = gatedRmsNorm(scan.y.data, columns(proj, width, 0, I), I, layer.gateNorm, this.eps, I / G);
      addInto(residual, await this.project(gated, layer.outProj));
      cache.push({ conv: xBC.finalState!.data, ssm: scan.finalState!.data });
    }
    return { logits: await this.head(residual), cache };
  }

  protected async stepLayers(tokens: Int32Array, cache: LayerCache[], batch: number): Promise<Float32Array> {
    const { hiddenSize: H, innerSize: I, heads, headDim: P, groups: G, stateSize: N, convWidth: W } = this;
    const conv = I + 2 * G * N;
    const width = I + conv + heads;
    const residual = this.embed(tokens);
    for (let l = 0; l < this.#layers.length; l++) {
      const layer = this.#layers[l]!;
      const proj = await this.project(rmsNorm(residual, H, layer.norm, this.eps), layer.inProj);
      const { y: xBC } = await this.ls.causalConv1dStep({
        state: tensor(cache[l]!.conv, [batch, conv, W - 1]), x: tensor(columns(proj, width, I, conv), [batch, conv]),
        weight: layer.convWeight, bias: layer.convBias, activation: 'silu',
      });
      const { y } = await this.ls.ssdScanStep({
        state: tensor(cache[l]!.ssm, [batch, heads, P, N]), x: tensor(columns(xBC.data, conv, 0, I), [batch, heads, P]),
        dt: tensor(columns(proj, width, I + conv, heads), [batch, heads]), A: layer.A,
        B: tensor(columns(xBC.data, conv, I, G * N), [batch, G, N]), C: tensor(columns(xBC.data, conv, I + G * N, G * N), [batch, G, N]),
        D: layer.D, dtBias: layer.dtBias, dtSoftplus: true, dtLimit: this.#dtLimit,
      });
      const gated = gatedRmsNorm(y.data, columns(proj, width, 0, I), I, layer.gateNorm, this.eps, I / G);
      addInto(residual, await this.project(gated, layer.outProj));
    }
    return this.head(residual);
  }
}
