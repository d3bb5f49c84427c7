/**
 * Issue 9: many overlapping calls of every op on one backend give the same results as serial calls, and no call
 * modifies its inputs (step states aside, which they update by design).
 */
import { describe, expect, test } from 'vitest';
import type { LongSeq, Tensor } from '../ts/index.node.js';
import { backend, testBackends } from './helpers/backends.js';
import { clone, rng, uniform } from './helpers/random.js';

type Call = { op: string; inputs: Record<string, unknown>; run: (ls: LongSeq) => Promise<Record<string, Tensor>> };

function makeCalls(seed: number): Call[] {
  const r = rng(seed);
  const t = (shape: number[], lo = -1, hi = 1) => uniform(r, shape, lo, hi);
  const calls: Call[] = [];
  for (let i = 0; i < 4; i++) {
    const scan = { u: t([2, 12, 40]), delta: t([2, 12, 40]), A: t([12, 5], -2, -0.1), B: t([2, 5, 40]), C: t([2, 5, 40]), z: t([2, 12, 40]), deltaSoftplus: true };
    const rule = { q: t([1, 70, 2, 8]), k: t([1, 70, 2, 8], -0.3, 0.3), v: t([1, 70, 4, 6]), beta: t([1, 70, 4], 0, 1), g: t([1, 70, 4], -1, 0) };
    const conv = { x: t([2, 9, 50]), weight: t([9, 4]), bias: t([9]), activation: 'silu' as const };
    const fft = { u: t([2, 3, 300]), k: t([3, 200]), D: t([3]) };
    const scanStep = { state: t([2, 12, 5]), x: t([2, 12]), delta: t([2, 12]), A: t([12, 5], -2, -0.1), B: t([2, 5]), C: t([2, 5]) };
    calls.push(
      { op: 'selectiveScan', inputs: scan, run: (ls) => ls.selectiveScan({ ...scan, returnFinalState: true }) as never },
      { op: 'deltaRule', inputs: rule, run: (ls) => ls.deltaRule(rule) as never },
      { op: 'causalConv1d', inputs: conv, run: (ls) => ls.causalConv1d(conv) as never },
      { op: 'fftConv', inputs: fft, run: (ls) => ls.fftConv(fft) as never },
      {
        op: 'selectiveScanStep', inputs: { ...scanStep, state: undefined },
        run: async (ls) => {
          const state = clone(scanStep.state); // each run starts from the same state
          const { y } = await ls.selectiveScanStep({ ...scanStep, state });
          return { y, state };
        },
      },
    );
  }
  return calls;
}

describe.each(testBackends)('concurrency on $name', (b) => {
  (b.available ? test : test.skip)('overlapping calls of every op equal serial calls, and leave their inputs unchanged', async () => {
    const ls = await backend(b.name);
    const calls = makeCalls(5);
    const snapshots = calls.map((c) =>
      Object.entries(c.inputs).filter(([, v]) => typeof v === 'object' && v !== null).map(([k, v]) => [k, (v as Tensor).data.slice()] as const),
    );
    const serial: Record<string, Tensor>[] = [];
    for (const c of calls) serial.push(await c.run(ls));
    const parallel = await Promise.all(calls.map((c) => c.run(ls)));
    parallel.forEach((out, i) => {
      for (const [key, value] of Object.entries(out)) expect(value.data, `${calls[i]!.op} ${key}`).toEqual(serial[i]![key]!.data);
    });
    calls.forEach((c, i) => {
      for (const [key, before] of snapshots[i]!) expect((c.inputs[key] as Tensor).data, `${c.op} ${key}`).toEqual(before);
    });
  });
});
