/**
 * Mamba (transformers' MambaForCausalLM): per layer, RMSNorm → in_proj → [x | z]; x through the causal conv1d
 * and SiLU; x_proj → [dt | B | C]; dt_proj; the selective scan (softplus, D, z gate, dt_proj's bias as deltaBias);
 * out_proj; residual. Then the final RMSNorm and the LM head (tied to the embeddings unless lm_head.weight is
 * in the checkpoint).
 */
import type { LongSeq } from '../longseq.js';
import { tensor } from '../tensor.js';
import type { MambaBlockWeights } from '../ops/mambaBlocksStep.js';
import type { Checkpoint } from './checkpoint.js';
import { integer } from './config.js';
import { addInto, columns, negExp, rmsNorm, toChannels, toRows } from '../layers.js';
import { CausalLM, type LayerCache } from './model.js';


export class MambaModel extends CausalLM {
  readonly innerSize: number;
  readonly stateSize: number;
  readonly dtRank: number;
  readonly convWidth: number;
  readonly #layers: MambaBlockWeights[];

  constructor(ls: LongSeq, checkpoint: Checkpoint) {
    super(ls, checkpoint);
    const c = checkpoint.config;
    const H = this.hiddenSize;
    const I = integer(c, 'intermediate_size', 2 * H);
    const N = integer(c, 'state_size', 16);
    const R = integer(c, 'time_step_rank', Math.ceil(H / 16));
    const W = integer(c, 'conv_kernel', 4);
    [this.innerSize, this.stateSize, this.dtRank, this.convWidth] = [I, N, R, W];
    const w = (name: string, shape: number[]) => checkpoint.weight(name, shape);
    this.#layers = Array.from({ length: this.numLayers }, (_, l) => {
      const p = `backbone.layers.${l}.`;
      const m = `${p}mixer.`;
      return {
        norm: tensor(w(`${p}norm.weight`, [H]), [H]),
        inProj: tensor(w(`${m}in_proj.weight`, [2 * I, H]), [2 * I, H]),
        convWeight: tensor(w(`${m}conv1d.weight`, [I, 1, W]), [I, W]),
        convBias: checkpoint.has(`${m}conv1d.bias`) ? tensor(w(`${m}conv1d.bias`, [I]), [I]) : undefined,
        xProj: tensor(w(`${m}x_proj.weight`, [R + 2 * N, I]), [R + 2 * N, I]),
        dtProj: tensor(w(`${m}dt_proj.weight`, [I, R]), [I, R]),
        dtBias: tensor(w(`${m}dt_proj.bias`, [I]), [I]),
        A: tensor(negExp(w(`${m}A_log`, [I, N])), [I, N]),
        D: tensor(w(`${m}D`, [I]), [I]),
        outProj: tensor(w(`${m}out_proj.weight`, [H, I]), [H, I]),
      };
    });
  }

  protected async runLayers(ids: Int32Array, batch: number, length: number): Promise<{ logits: Float32Array; cache: LayerCache[] }> {
    const { hiddenSize: H, innerSize: I, stateSize: N, dtRank: R } = this;
    const residual = this.embed(ids);
    const cache: LayerCache[] = [];
    for (const layer of this.#layers) {
      const proj = await this.project(rmsNorm(residual, H, layer.norm.data, this.eps), layer.inProj);
      const x = tensor(toChannels(proj, batch, length, 2 * I, 0, I), [batch, I, length]);
      const z = tensor(toChannels(proj, batch, length, 2 * I, I, I), [batch, I, length]);
      const conv = await this.ls.causalConv1d({
        x, weight: layer.convWeight, bias: layer.convBias, activation: 'silu', returnFinalState: true,
      });
      const params = await this.project(toRows(conv.y.data, batch, I, length), layer.xProj);
      const dt = await this.project(columns(params, R + 2 * N, 0, R), layer.dtProj);
      const scan = await this.ls.selectiveScan({
        u: conv.y, delta: tensor(toChannels(dt, batch, length, I, 0, I), [batch, I, length]), A: layer.A,
        B: tensor(toChannels(params, batch, length, R + 2 * N, R, N), [batch, N, length]),
        C: tensor(toChannels(params, batch, length, R + 2 * N, R + N, N), [batch, N, length]),
        D: layer.D, z, deltaBias: layer.dtBias, deltaSoftplus: true, returnFinalState: true,
      });
      addInto(residual, await this.project(toRows(scan.y.data, batch, I, length), layer.outProj));
      cache.push({ conv: conv.finalState!.data, ssm: scan.finalState!.data });
    }
    return { logits: await this.head(residual), cache };
  }

  protected async stepLayers(tokens: Int32Array, cache: LayerCache[], batch: number): Promise<Float32Array> {
    const { hiddenSize: H, innerSize: I, stateSize: N, convWidth: W } = this;
    const { y } = await this.ls.mambaBlocksStep({
      hidden: tensor(this.embed(tokens), [batch, H]), eps: this.eps,
      blocks: this.#layers.map((weights, l) => ({
        weights, convState: tensor(cache[l]!.conv, [batch, I, W - 1]), ssmState: tensor(cache[l]!.ssm, [batch, I, N]),
      })),
    });
    return this.head(y.data);
  }
}
