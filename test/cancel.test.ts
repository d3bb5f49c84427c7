/** Issue 9: every op takes { signal }; native work stops between pieces of work, steps are all or nothing. */
import { describe, expect, test } from 'vitest';
import { tensor, type LongSeq } from '../ts/index.node.js';
import { backend, testBackends } from './helpers/backends.js';
import { rng, uniform } from './helpers/random.js';

const r = rng(31);
const t = (shape: number[], lo = -1, hi = 1) => uniform(r, shape, lo, hi);
const steps = new Set(['selectiveScanStep', 'deltaRuleStep', 'causalConv1dStep', 'ssdScanStep', 'mambaBlocksStep']);

/** One small valid call of each op, with the given signal. */
function calls(ls: LongSeq, signal: AbortSignal): [string, () => Promise<unknown>, Float32Array?][] {
  const scanState = t([2, 4, 3]);
  const ruleState = t([2, 2, 4, 3]);
  const convState = t([2, 3, 3]);
  const ssdState = t([1, 2, 3, 4]);
  const blockState = t([2, 4, 3]);
  const block = {
    weights: {
      norm: t([5]), inProj: t([8, 5]), convWeight: t([4, 2]), xProj: t([8, 4]), dtProj: t([4, 2]), dtBias: t([4]), A: t([4, 3], -1, 0),
      D: t([4]), outProj: t([5, 4]),
    },
    convState: t([2, 4, 1]),
    ssmState: blockState,
  };
  return [
    ['selectiveScan', () => ls.selectiveScan({ u: t([1, 4, 8]), delta: t([1, 4, 8]), A: t([4, 3], -1, 0), B: t([1, 3, 8]), C: t([1, 3, 8]), signal })],
    ['selectiveScanStep', () => ls.selectiveScanStep({ state: scanState, x: t([2, 4]), delta: t([2, 4]), A: t([4, 3], -1, 0), B: t([2, 3]), C: t([2, 3]), signal }), scanState.data],
    ['deltaRule', () => ls.deltaRule({ q: t([1, 8, 2, 4]), k: t([1, 8, 2, 4]), v: t([1, 8, 2, 3]), beta: t([1, 8, 2], 0, 1), signal })],
    ['deltaRuleStep', () => ls.deltaRuleStep({ state: ruleState, q: t([2, 2, 4]), k: t([2, 2, 4]), v: t([2, 2, 3]), beta: t([2, 2], 0, 1), signal }), ruleState.data],
    ['causalConv1d', () => ls.causalConv1d({ x: t([2, 3, 9]), weight: t([3, 4]), signal })],
    ['causalConv1dStep', () => ls.causalConv1dStep({ state: convState, x: t([2, 3]), weight: t([3, 4]), signal }), convState.data],
    ['fftConv', () => ls.fftConv({ u: t([1, 2, 9]), k: t([2, 5]), signal })],
    ['fftConvPlan', () => ls.fftConvPlan({ k: t([2, 5]), L: 9, signal })],
    ['ssdScan', () => ls.ssdScan({ x: t([1, 6, 2, 3]), dt: t([1, 6, 2]), A: t([2], -1, 0), B: t([1, 6, 1, 4]), C: t([1, 6, 1, 4]), signal })],
    ['ssdScanStep', () => ls.ssdScanStep({ state: ssdState, x: t([1, 2, 3]), dt: t([1, 2]), A: t([2], -1, 0), B: t([1, 1, 4]), C: t([1, 1, 4]), signal }), ssdState.data],
    ['linear', () => ls.linear({ x: t([3, 5]), weight: t([4, 5]), bias: t([4]), signal })],
    ['mambaBlocksStep', () => ls.mambaBlocksStep({ hidden: t([2, 5]), blocks: [block], signal }), blockState.data],
  ];
}

describe.each(testBackends)('cancellation on $name', (b) => {
  const run = b.available ? test : test.skip;

  run('an already aborted signal rejects every op with an AbortError, and leaves step state untouched', async () => {
    const ls = await backend(b.name);
    const controller = new AbortController();
    controller.abort();
    for (const [op, call, state] of calls(ls, controller.signal)) {
      const before = state?.slice();
      await expect(call(), op).rejects.toMatchObject({ name: 'AbortError' });
      if (state) expect(state, op).toEqual(before);
      expect(steps.has(op) === !!state).toBe(true);
    }
  });

  run("the rejection is the signal's reason when the caller gives one", async () => {
    const ls = await backend(b.name);
    const reason = new Error('the user left');
    for (const [op, call] of calls(ls, AbortSignal.abort(reason))) await expect(call(), op).rejects.toBe(reason);
  });

  run('an unaborted signal changes nothing', async () => {
    const ls = await backend(b.name);
    for (const [op, call] of calls(ls, new AbortController().signal)) await expect(call(), op).resolves.toBeDefined();
  });

  run('a signal that is not an AbortSignal is a TypeError', async () => {
    const ls = await backend(b.name);
    await expect(ls.fftConv({ u: t([1, 2, 9]), k: t([2, 5]), signal: {} as never })).rejects.toThrow(/fftConv: signal must be an AbortSignal/);
  });
});

describe('cancellation of native work in flight', () => {
  const native = testBackends.find((x) => x.name === 'native')!;
  // Timed against a full run, so retried: on the two-core CI machine the other test files (the emulated CUDA kernels'
  // thread-per-CUDA-thread binaries) can starve one of the two runs (once a 170 ms full run, then 161 ms aborted).
  test.skipIf(!native.available)('stops a long deltaRule early and rejects with AbortError', { retry: 3 }, async () => {
    const ls = await backend('native');
    const [B, T, H, K] = [1, 16384, 8, 128];
    const p = {
      q: t([B, T, H, K]), k: t([B, T, H, K], -0.1, 0.1), v: t([B, T, H, K]), beta: t([B, T, H], 0, 1),
      algorithm: 'chunked' as const, // one task per head, checking between chunks
    };
    const start = performance.now();
    await ls.deltaRule(p);
    const full = performance.now() - start;
    const controller = new AbortController();
    const aborted = performance.now();
    setTimeout(() => controller.abort(), full / 10);
    await expect(ls.deltaRule({ ...p, signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    const took = performance.now() - aborted;
    // Aborted at a tenth of the way, it stops within a chunk; the bound leaves room for the timer firing late (once
    // 158 ms of a 313 ms run), far below a run that ignored the signal.
    expect(took, `full run ${full.toFixed(0)} ms, aborted run ${took.toFixed(0)} ms`).toBeLessThan(0.75 * full);
    // And the backend keeps working.
    const { o } = await ls.deltaRule({ ...p, q: tensor(p.q.data.subarray(0, H * K), [1, 1, H, K]), k: tensor(p.k.data.subarray(0, H * K), [1, 1, H, K]), v: tensor(p.v.data.subarray(0, H * K), [1, 1, H, K]), beta: tensor(p.beta.data.subarray(0, H), [1, 1, H]) });
    expect(o.data.every(Number.isFinite)).toBe(true);
  });
});
