import { describe, expect, test } from 'vitest';
import { tensor, type FftConvParams } from '../ts/index.node.js';
import { backend, testBackends } from './helpers/backends.js';
import { expectClose } from './helpers/compare.js';
import { causalConv64 } from './helpers/fft64.js';
import { goldenFolderHasCases, goldenTests } from './helpers/goldenTests.js';
import { choose, pick, rng, uniform } from './helpers/random.js';

/** Random fftConv params: lengths include 1, primes and powers of two. */
function randomConv(seed: number): FftConvParams {
  const r = rng(seed);
  const [B, H] = [pick(r, 1, 2), pick(r, 1, 21)];
  const L = choose(r, [1, 2, 3, 7, 31, 64, 97, 128, 257, 1000, 1024, 1031]);
  const Lk = Math.min(L, choose(r, [1, 2, 5, Math.max(1, L >> 1), L, pick(r, 1, L)]));
  const p: FftConvParams = { u: uniform(r, [B, H, L]), k: uniform(r, [H, Lk], -1 / Math.sqrt(Lk), 1 / Math.sqrt(Lk)) };
  if (r() < 0.7) p.D = uniform(r, [H]);
  return p;
}

goldenFolderHasCases('fftConv');

describe.each(testBackends)('fftConv on $name', (b) => {
  const run = b.available ? test : test.skip;
  const algorithms = b.name === 'js' ? (['auto'] as const) : (['auto', 'fft', 'direct'] as const);

  goldenTests('fftConv', b, algorithms.map((algorithm) => ({ algorithm })));

  run('FFT == direct == the js reference on random shapes and lengths (primes, powers of two, 1)', async () => {
    const ls = await backend(b.name);
    const js = await backend('js');
    for (let seed = 1; seed <= 30; seed++) {
      const p = randomConv(seed);
      const ref = await js.fftConv(p);
      for (const algorithm of algorithms) {
        const out = await ls.fftConv({ ...p, algorithm });
        expectClose(`seed ${seed} ${algorithm} (L ${p.u.shape[2]}, Lk ${p.k.shape[1]})`, out.y, ref.y, 1e-5);
      }
    }
  });

  run('a plan gives the same result as the plain call, for any batch', async () => {
    const ls = await backend(b.name);
    for (let seed = 40; seed < 50; seed++) {
      const p = randomConv(seed);
      const plan = await ls.fftConvPlan({ k: p.k, L: p.u.shape[2]! });
      expect([plan.channels, plan.kernelLength, plan.length]).toEqual([p.k.shape[0], p.k.shape[1], p.u.shape[2]]);
      const [plain, planned] = await Promise.all([ls.fftConv({ ...p, algorithm: 'fft' }), plan.run({ u: p.u, D: p.D })]);
      expectClose(`seed ${seed}`, planned.y, plain.y, 1e-6);
      const u2 = uniform(rng(seed), [3, p.u.shape[1]!, p.u.shape[2]!]);
      const [a, c] = await Promise.all([plan.run({ u: u2 }), ls.fftConv({ u: u2, k: p.k })]);
      expectClose(`seed ${seed} batch 3`, a.y, c.y, 1e-5);
    }
    const plan = await ls.fftConvPlan({ k: uniform(rng(1), [2, 4]), L: 10 });
    await expect(plan.run({ u: uniform(rng(2), [1, 2, 11]) })).rejects.toThrow(/u must have shape \[B, 2, 10\]/);
    await expect(plan.run({ u: uniform(rng(2), [1, 3, 10]) })).rejects.toThrow(RangeError);
  });

  // The CPU FFT switches to its four-step decomposition at a complex size m that depends on the vector width
  // (FourStepMin in native/cpu/fft.h: 1024 to 8192 points), so every size around those switches: m = L with a kernel
  // as long as the input (the zero padding exactly half of each transform), and with an odd L - 3 and 7 taps (the
  // last nonzero row of the four-step's layout part zero, after a call that left other data there). 9 channels, so
  // that they fill 8 or 16 lanes (fewer channels run on fewer lanes) and one group has a single channel. A plan's run
  // too: four-step plans keep their spectrum in the layout's row order.
  const compiled = b.available && b.name !== 'js' ? test : test.skip;
  compiled('FFT == direct == plan on both sides of the four-step switch (L = 512 … 16384)', async () => {
    const ls = await backend(b.name);
    const H = 9;
    for (let L = 512; L <= 16384; L *= 2) {
      for (const [len, taps] of [[L, L], [L - 3, 7]] as const) {
        const r = rng(len);
        const bound = 1 / Math.sqrt(taps);
        const B = taps === len ? 1 : 2;  // batch rows share one kernel spectrum
        const p: FftConvParams = { u: uniform(r, [B, H, len]), k: uniform(r, [H, taps], -bound, bound) };
        p.D = uniform(r, [H]);
        const plan = await ls.fftConvPlan({ k: p.k, L: len });
        const [fft, direct, planned] = await Promise.all([
          ls.fftConv({ ...p, algorithm: 'fft' }),
          ls.fftConv({ ...p, algorithm: 'direct' }),
          plan.run({ u: p.u, D: p.D }),
        ]);
        expectClose(`L ${len}, Lk ${taps}`, fft.y, direct.y, 1e-5);
        expectClose(`L ${len}, Lk ${taps}, plan`, planned.y, fft.y, 1e-6);
      }
    }
  });

  compiled('stays within 1e-4 of a float64 reference at L = 2^20', async () => {
    const ls = await backend(b.name);
    const L = 2 ** 20;
    const r = rng(2020);
    const u = uniform(r, [1, 1, L]);
    const k = uniform(r, [1, L], -1e-3, 1e-3);
    const D = uniform(r, [1]);
    const { y } = await ls.fftConv({ u, k, D });
    const ref = causalConv64(u.data, k.data, D.data[0]!);
    expectClose('L = 2^20', y, tensor(Float32Array.from(ref), [1, 1, L]), 1e-4);
  });

  run('propagates NaN in the data', async () => {
    const ls = await backend(b.name);
    const r = rng(3);
    const u = uniform(r, [1, 2, 100]);
    u.data[5] = NaN;
    for (const algorithm of algorithms) {
      const { y } = await ls.fftConv({ u, k: uniform(r, [2, 60]), algorithm });
      expect(Number.isNaN(y.data[30]!), algorithm).toBe(true); // t = 30 sums u[0..30], u[5] among them
    }
  });
});

describe.each(testBackends)('fftConv errors on $name', (b) => {
  const run = b.available ? test : test.skip;
  const r = rng(4);
  const good = { u: uniform(r, [2, 3, 10]), k: uniform(r, [3, 4]) };
  run.each([
    ['a kernel longer than the input', { k: uniform(r, [3, 11]) }, RangeError, /k must have shape \[3, Lk\] \(\[H, Lk\] with Lk <= L = 10\), got \[3, 11\]/],
    ['a kernel for other channels', { k: uniform(r, [2, 4]) }, RangeError, /k must have shape \[3, Lk\]/],
    ['D of the wrong size', { D: uniform(r, [2]) }, RangeError, /D must have shape \[3\]/],
    ['an unknown algorithm', { algorithm: 'winograd' }, TypeError, /algorithm must be one of "auto", "fft", "direct"/],
  ] as const)('%s', async (_what, change, type, message) => {
    const ls = await backend(b.name);
    const call = ls.fftConv({ ...good, ...change } as never);
    await expect(call).rejects.toThrow(type);
    await expect(call).rejects.toThrow(message);
  });
  run('plan errors', async () => {
    const ls = await backend(b.name);
    await expect(ls.fftConvPlan({ k: good.k, L: 3 })).rejects.toThrow(/Lk = 4 must be <= L = 3/);
    await expect(ls.fftConvPlan({ k: good.k, L: 2.5 })).rejects.toThrow(/L must be an integer >= 1, got 2.5/);
    await expect(ls.fftConvPlan({ k: good.k, L: '10' } as never)).rejects.toThrow(TypeError);
  });
});
