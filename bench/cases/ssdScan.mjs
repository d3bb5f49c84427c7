// ssdScan at the DESIGN §6 configurations (softplus dt, D, z, G = 1), both algorithms. Elements are token·heads;
// flops the recurrence's 2 P N multiply-adds per token·head, as in native/bench/ssd_scan_bench.cc.
import { tensor } from '../../dist/index.js';
import { random } from '../random.mjs';

function ssdCase(algorithm, B, L, H, P, N) {
  const xs = B * L * H * P;
  return {
    op: `ssdScan ${algorithm}`,
    config: `B${B} L${L} H${H} P${P} N${N}`,
    elements: B * L * H,
    flops: 4 * B * L * H * P * N,
    bytes: 12 * xs + 4 * (B * L * H + 2 * B * L * N),
    inputBytes: 8 * xs + 4 * (B * L * H + 2 * B * L * N),
    skipJs: algorithm === 'chunked' || B > 1,
    make(seed) {
      const r = random(seed);
      return {
        x: tensor(r.floats(xs, -1, 1), [B, L, H, P]), z: tensor(r.floats(xs, -2, 2), [B, L, H, P]),
        dt: tensor(r.floats(B * L * H, -3, 0), [B, L, H]), A: tensor(r.floats(H, -4, -0.5), [H]),
        B: tensor(r.floats(B * L * N, -1, 1), [B, L, 1, N]), C: tensor(r.floats(B * L * N, -1, 1), [B, L, 1, N]),
        D: tensor(r.floats(H, -1, 1), [H]), dtBias: tensor(r.floats(H, -1, 1), [H]), dtSoftplus: true, algorithm,
      };
    },
    run: (ls, params) => ls.ssdScan(params),
  };
}

export const cases = ['recurrent', 'chunked'].flatMap((algorithm) => [
  ssdCase(algorithm, 1, 4096, 32, 64, 128),
  ssdCase(algorithm, 8, 2048, 24, 64, 128),
]);
