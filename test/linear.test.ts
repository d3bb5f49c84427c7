import { describe, expect, test } from 'vitest';
import { tensor } from '../ts/index.node.js';
import { backend, testBackends } from './helpers/backends.js';
import { expectClose } from './helpers/compare.js';
import { choose, pick, rng, uniform } from './helpers/random.js';

describe.each(testBackends)('linear on $name', (b) => {
  const run = b.available ? test : test.skip;

  run('matches the js reference on random shapes, every row and output tail', async () => {
    const ls = await backend(b.name);
    const js = await backend('js');
    for (let seed = 1; seed <= 30; seed++) {
      const r = rng(seed);
      const K = choose(r, [1, 3, 16, 17, 64, 100, 768]);
      const N = pick(r, 1, 37);
      const lead = choose(r, [[], [pick(r, 1, 9)], [2, pick(r, 1, 5)]]);
      const p = { x: uniform(r, [...lead, K]), weight: uniform(r, [N, K]), ...(r() < 0.5 && { bias: uniform(r, [N]) }) };
      const [out, ref] = await Promise.all([ls.linear(p), js.linear(p)]);
      expect(out.y.shape).toEqual([...lead, N]);
      expectClose(`seed ${seed}`, out.y, ref.y, 1e-5);
    }
  });

  run('is exact on small integers, bias included', async () => {
    const ls = await backend(b.name);
    const { y } = await ls.linear({ x: tensor([1, 2, 3, 4, 5, 6], [2, 3]), weight: tensor([1, 0, 1, 0, 1, 0], [2, 3]), bias: tensor([10, 20], [2]) });
    expect(Array.from(y.data)).toEqual([14, 22, 20, 25]);
  });

  run('names the argument that does not fit', async () => {
    const ls = await backend(b.name);
    await expect(ls.linear({ x: tensor([1, 2, 3], [3]), weight: tensor([1, 2, 3, 4], [2, 2]) })).rejects.toThrow(
      /linear: weight must have shape \[N, 3\] \(\[out, in\] with in = 3 from x\), got \[2, 2\]/,
    );
    await expect(ls.linear({ x: tensor([1, 2], [2]), weight: tensor([1, 2], [1, 2]), bias: tensor([1, 2], [2]) })).rejects.toThrow(
      /linear: bias must have shape \[1\]/,
    );
  });
});
