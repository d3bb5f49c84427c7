// Calls of each op on one backend, and the growth of the process's resident memory over the second of two
// equal rounds (the first grows the heaps, JIT code and pools to their working size; a leak keeps growing).
// Run with --expose-gc. Usage: node --expose-gc test/child/memory.mjs <backend> <calls per round>
// Prints one JSON line: { op: growth in MiB over the second round, ... }.
import { init, tensor } from '../../dist/index.node.js';

const [backendName, callsArg] = process.argv.slice(2);
const calls = Number(callsArg ?? 10000);
const t = (shape, lo = -1, hi = 1) =>
  tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => lo + (hi - lo) * ((i * 0.618) % 1)), shape);

const ls = await init({ backend: backendName });
const plan = await ls.fftConvPlan({ k: t([4, 16]), L: 64 });
const OPS = {
  selectiveScan: () => ls.selectiveScan({ u: t([1, 16, 64]), delta: t([1, 16, 64]), A: t([16, 8], -1, -0.1), B: t([1, 8, 64]), C: t([1, 8, 64]), returnFinalState: true }),
  selectiveScanStep: () => ls.selectiveScanStep({ state: t([2, 16, 8]), x: t([2, 16]), delta: t([2, 16]), A: t([16, 8], -1, -0.1), B: t([2, 8]), C: t([2, 8]) }),
  deltaRule: () => ls.deltaRule({ q: t([1, 32, 2, 16]), k: t([1, 32, 2, 16], -0.2, 0.2), v: t([1, 32, 2, 16]), beta: t([1, 32, 2], 0, 1), returnFinalState: true }),
  deltaRuleStep: () => ls.deltaRuleStep({ state: t([2, 2, 16, 16]), q: t([2, 2, 16]), k: t([2, 2, 16]), v: t([2, 2, 16]), beta: t([2, 2], 0, 1) }),
  causalConv1d: () => ls.causalConv1d({ x: t([1, 16, 64]), weight: t([16, 4]), returnFinalState: true }),
  causalConv1dStep: () => ls.causalConv1dStep({ state: t([2, 16, 3]), x: t([2, 16]), weight: t([16, 4]) }),
  fftConv: () => ls.fftConv({ u: t([1, 4, 64]), k: t([4, 64]), algorithm: 'fft' }),
  fftConvPlanRun: () => plan.run({ u: t([1, 4, 64]) }),
  ssdScan: () => ls.ssdScan({ x: t([1, 32, 2, 8]), dt: t([1, 32, 2]), A: t([2], -1, 0), B: t([1, 32, 1, 16]), C: t([1, 32, 1, 16]), returnFinalState: true }),
  ssdScanStep: () => ls.ssdScanStep({ state: t([2, 2, 8, 16]), x: t([2, 2, 8]), dt: t([2, 2]), A: t([2], -1, 0), B: t([2, 1, 16]), C: t([2, 1, 16]) }),
  linear: () => ls.linear({ x: t([4, 64]), weight: t([96, 64]), bias: t([96]) }),
};

const rss = () => {
  globalThis.gc?.();
  return process.memoryUsage().rss / 2 ** 20;
};
// The first op run in a fresh process also pays for the process's own warm-up (V8 heap sizing): warm all.
for (const run of Object.values(OPS)) for (let i = 0; i < 2000; i++) await run();
const growth = {};
for (const [op, run] of Object.entries(OPS)) {
  for (let i = 0; i < calls; i++) await run();
  const before = rss();
  for (let i = 0; i < calls; i++) await run();
  growth[op] = Number((rss() - before).toFixed(1));
}
console.log(JSON.stringify(growth));
