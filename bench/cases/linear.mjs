// linear at the projections of a mamba-130m-shaped model: in_proj (768 -> 3072) for one decode token and for a
// 512-token prefill chunk. Flops: 2 per weight and row; bytes: the weights once, plus x and y.
import { tensor } from '../../dist/index.js';
import { random } from '../random.mjs';

function linearCase(rows, inFeatures, outFeatures) {
  return {
    op: 'linear',
    config: `rows${rows} in${inFeatures} out${outFeatures}`,
    elements: rows * outFeatures,
    flops: 2 * rows * inFeatures * outFeatures,
    bytes: 4 * (outFeatures * inFeatures + rows * (inFeatures + outFeatures)),
    inputBytes: 4 * (outFeatures * inFeatures + rows * inFeatures),
    make(seed) {
      const r = random(seed);
      return {
        x: tensor(r.floats(rows * inFeatures, -1, 1), [rows, inFeatures]),
        weight: tensor(r.floats(outFeatures * inFeatures, -0.05, 0.05), [outFeatures, inFeatures]),
        bias: tensor(r.floats(outFeatures, -0.1, 0.1), [outFeatures]),
      };
    },
    run: (ls, params) => ls.linear(params),
  };
}

export const cases = [linearCase(1, 768, 3072), linearCase(512, 768, 3072)];
