// fftConv on the cuda backend planned as a GPU whose blocks may have 99 KB of shared memory (sm_86, sm_89): run
// with LONGSEQ_CUDA_SHARED_LIMIT=101376 set before the addon loads. FFTs of 2^14 points (L + Lk - 1 in
// 8193..16384) then take the four-step; each case is compared with the native backend. Usage:
// LONGSEQ_CUDA_SHARED_LIMIT=101376 node test/child/fftConvSmallShared.mjs
// Prints one JSON line: { "<case>": relative L2 error against native, ... }.
import { init, tensor } from '../../dist/index.node.js';

let seed = 1;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
const t = (shape, scale = 1) => tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * random()), shape);
const relativeL2 = (a, b) => {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) num += (a[i] - b[i]) ** 2, den += b[i] ** 2;
  return Math.sqrt(num / den);
};

const [gpu, cpu] = await Promise.all([init({ backend: 'cuda' }), init({ backend: 'native' })]);
const errors = {};
// Batch 1 (the filters' spectrum per chunk) and 3 (up front), odd channel counts, Lk < L, n = 2^14 at both ends.
for (const [B, H, L, Lk] of [[1, 3, 8193, 8193], [3, 5, 12000, 4000], [1, 4, 16384, 1], [2, 1, 9000, 7385]]) {
  const p = { u: t([B, H, L]), k: t([H, Lk], 1 / Math.sqrt(Lk)), D: t([H]) };
  const [out, ref] = await Promise.all([gpu.fftConv(p), cpu.fftConv({ ...p, algorithm: 'fft' })]);
  errors[`B${B} H${H} L${L} Lk${Lk}`] = relativeL2(out.y.data, ref.y.data);
  const plan = await gpu.fftConvPlan({ k: p.k, L });
  errors[`B${B} H${H} L${L} Lk${Lk} plan`] = relativeL2((await plan.run({ u: p.u, D: p.D })).y.data, ref.y.data);
  plan.dispose();
}
console.log(JSON.stringify(errors));
