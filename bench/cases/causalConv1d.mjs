// causalConv1d at DESIGN §6: B1 D1536 L4096 W4 with bias and SiLU. Flops: W multiply-adds per output.
import { tensor } from '../../dist/index.js';
import { random } from '../random.mjs';

const [B, D, L, W] = [1, 1536, 4096, 4];

export const cases = [
  {
    op: 'causalConv1d',
    config: `B${B} D${D} L${L} W${W}`,
    elements: B * D * L,
    flops: 2 * W * B * D * L,
    bytes: 8 * B * D * L,
    inputBytes: 4 * B * D * L,
    make(seed) {
      const r = random(seed);
      return {
        x: tensor(r.floats(B * D * L, -1, 1), [B, D, L]),
        weight: tensor(r.floats(D * W, -1, 1), [D, W]),
        bias: tensor(r.floats(D, -1, 1), [D]),
        activation: 'silu',
      };
    },
    run: (ls, params) => ls.causalConv1d(params),
  },
];
