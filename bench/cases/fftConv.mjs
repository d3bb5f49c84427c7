// fftConv at the DESIGN §6 CPU configurations: kernel as long as the input (Hyena), D on, the kernel's FFT in
// every call; and plan.run (the kernel transformed once). Flops: 2.5 n log2 n per real FFT of size n (the
// usual 5 n log2 n per complex one), three per row (two with a plan); bytes: u read and y written once.
import { tensor } from '../../dist/index.js';
import { random } from '../random.mjs';

function fftSize(L) {
  let n = 2;
  while (n < 2 * L - 1) n *= 2;
  return n;
}

function convCase(H, L, withPlan) {
  const n = fftSize(L);
  return {
    op: withPlan ? 'fftConv plan.run' : 'fftConv',
    config: `B1 H${H} L${L}`,
    nativeConfig: `B1 H${H} L${L} Lk${L}`,  // longseq-bench names the kernel's length too
    elements: H * L,
    flops: H * ((withPlan ? 2 : 3) * 2.5 * n * Math.log2(n) + 3 * n),
    bytes: 8 * H * L,
    inputBytes: 8 * H * L,
    // The js reference sums directly (L^2 work): only the smallest shape.
    skipJs: withPlan || L > 4096,
    make(seed) {
      const r = random(seed);
      return {
        u: tensor(r.floats(H * L, -1, 1), [1, H, L]),
        k: tensor(r.floats(H * L, -0.01, 0.01), [H, L]),
        D: tensor(r.floats(H, -1, 1), [H]),
      };
    },
    // The plan is made before the timing, like a model's fixed filter.
    prepare: withPlan ? async (ls, params) => ({ ...params, plan: await ls.fftConvPlan({ k: params.k, L }) }) : undefined,
    run: (ls, { plan, ...params }) => (withPlan ? plan.run({ u: params.u, D: params.D, signal: params.signal }) : ls.fftConv(params)),
  };
}

export const cases = [
  convCase(768, 4096, false),
  convCase(768, 16384, false),
  convCase(64, 131072, false),
  convCase(64, 131072, true),
  convCase(64, 1048576, false),
  convCase(64, 1048576, true),
];
