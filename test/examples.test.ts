import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect, test } from 'vitest';

// The README's example must keep running as written (it imports the built package, dist/).
test.skipIf(!existsSync(new URL('../dist/index.node.js', import.meta.url)))('examples/quickstart.mjs runs', () => {
  const out = execFileSync(process.execPath, ['examples/quickstart.mjs'], { encoding: 'utf8' });
  expect(out).toMatch(/y: \[1,64,256\], finalState: \[1,64,16\]/);
  expect(out).toMatch(/step 2: y\[0..3\] = /);
});
