import { describe, expect, test } from 'vitest';
import { backend, testBackends } from './helpers/backends.js';
import { expectClose } from './helpers/compare.js';
import { goldenFolderHasCases, goldenTests } from './helpers/goldenTests.js';
import { clone, pick, rng, uniform } from './helpers/random.js';

goldenFolderHasCases('deltaRuleStep');

function randomStep(seed: number) {
  const r = rng(seed);
  const [B, H, m, K, V] = [pick(r, 1, 4), pick(r, 1, 3), pick(r, 1, 2), pick(r, 1, 40), pick(r, 1, 70)];
  return {
    state: uniform(r, [B, H * m, K, V]), q: uniform(r, [B, H, K]), k: uniform(r, [B, H, K], -0.3, 0.3),
    v: uniform(r, [B, H * m, V]), beta: uniform(r, [B, H * m], 0, 1), g: uniform(r, [B, H * m], -1, 0),
    useQkL2Norm: r() < 0.5,
  };
}

describe.each(testBackends)('deltaRuleStep on $name', (b) => {
  const run = b.available ? test : test.skip;

  goldenTests('deltaRuleStep', b);

  run('matches the js reference on random shapes', async () => {
    const ls = await backend(b.name);
    const js = await backend('js');
    for (let seed = 1; seed <= 20; seed++) {
      const p = randomStep(seed);
      const mine = clone(p.state);
      const theirs = clone(p.state);
      const [out, ref] = await Promise.all([ls.deltaRuleStep({ ...p, state: mine }), js.deltaRuleStep({ ...p, state: theirs })]);
      expectClose(`seed ${seed} o`, out.o, ref.o, 1e-5);
      expectClose(`seed ${seed} state`, mine, theirs, 1e-5);
    }
  });

  run('a rejected step leaves its state byte-for-byte untouched', async () => {
    const ls = await backend(b.name);
    const p = randomStep(3);
    const before = p.state.data.slice();
    const r = rng(5);
    const bad: [string, object][] = [
      ['q of the wrong shape', { q: uniform(r, [9, 9, 9]) }],
      ['v of the wrong shape', { v: uniform(r, [1, 1]) }],
      ['a NaN scale', { scale: NaN }],
      ['an unknown argument', { chunkSize: 64 }],
      ['beta missing', { beta: undefined }],
    ];
    for (const [what, change] of bad) {
      await expect(ls.deltaRuleStep({ ...p, ...change } as never), what).rejects.toThrow(/deltaRuleStep/);
      expect(Buffer.from(p.state.data.buffer).equals(Buffer.from(before.buffer)), what).toBe(true);
    }
  });
});
