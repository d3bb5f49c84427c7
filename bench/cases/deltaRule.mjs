// deltaRule (gated, q/k l2-normalised, both algorithms) and deltaRuleStep at the DESIGN §6 configurations.
// Elements are token·heads; flops are each algorithm's own arithmetic, as in native/bench/delta_rule_bench.cc.
import { tensor } from '../../dist/index.js';
import { random } from '../random.mjs';

const CHUNK = 64;

function ruleCase(algorithm, T, H, K, V) {
  const B = 1;
  const bh = B * T * H;
  return {
    op: `deltaRule ${algorithm}`,
    config: `B1 H${H} K=V=${K} T${T}`,
    elements: bh,
    flops: algorithm === 'chunked'
      ? (bh / CHUNK) * 2 * (2 * CHUNK * CHUNK * K + (CHUNK * CHUNK * (K + V)) / 2 + CHUNK * CHUNK * V + 3 * CHUNK * K * V)
      : bh * 6 * K * V,
    bytes: 4 * bh * (2 * K + 2 * V + 2),
    inputBytes: 4 * bh * (2 * K + V + 2),
    // The js reference computes the same recurrence for both; it runs once, on the smaller shapes.
    skipJs: algorithm === 'chunked' || bh * K * V > 2 ** 27,
    make(seed) {
      const r = random(seed);
      return {
        q: tensor(r.floats(bh * K, -1, 1), [B, T, H, K]),
        k: tensor(r.floats(bh * K, -1, 1), [B, T, H, K]),
        v: tensor(r.floats(bh * V, -1, 1), [B, T, H, V]),
        beta: tensor(r.floats(bh, 0, 1), [B, T, H]),
        g: tensor(r.floats(bh, -0.5, 0), [B, T, H]),
        useQkL2Norm: true,
        algorithm,
      };
    },
    run: (ls, params) => ls.deltaRule(params),
  };
}

function stepCase(B, H, K, V) {
  return {
    op: 'deltaRuleStep',
    config: `B${B} H${H} K=V=${K}`,
    elements: B * H,
    flops: 6 * B * H * K * V,
    bytes: 8 * B * H * K * V + 4 * B * H * (2 * K + 2 * V + 2),
    inputBytes: 4 * B * H * K * V,
    make(seed) {
      const r = random(seed);
      return {
        state: tensor(r.floats(B * H * K * V, -1, 1), [B, H, K, V]),
        q: tensor(r.floats(B * H * K, -1, 1), [B, H, K]),
        k: tensor(r.floats(B * H * K, -1, 1), [B, H, K]),
        v: tensor(r.floats(B * H * V, -1, 1), [B, H, V]),
        beta: tensor(r.floats(B * H, 0, 1), [B, H]),
        g: tensor(r.floats(B * H, -0.5, 0), [B, H]),
        useQkL2Norm: true,
      };
    },
    run: (ls, params) => ls.deltaRuleStep(params),
  };
}

export const cases = [
  ...['recurrent', 'chunked'].flatMap((algorithm) => [
    ruleCase(algorithm, 1024, 8, 64, 64),
    ruleCase(algorithm, 4096, 8, 64, 64),
    ruleCase(algorithm, 16384, 8, 64, 64),
    ruleCase(algorithm, 1024, 8, 128, 128),
    ruleCase(algorithm, 4096, 8, 128, 128),
    ruleCase(algorithm, 16384, 8, 128, 128),
  ]),
  stepCase(64, 16, 128, 128),
];
