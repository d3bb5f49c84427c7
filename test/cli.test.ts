import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect, test } from 'vitest';
import { loadModel } from '../ts/models/index.node.js';
import { backend } from './helpers/backends.js';
import { goldenDir } from './helpers/golden.js';
import { goldenModelFolder } from './helpers/models.js';

const cli = new URL('../bin/longseq.mjs', import.meta.url).pathname;
const model = goldenModelFolder('mamba2-tiny');
const built = existsSync(new URL('../dist/models/index.node.js', import.meta.url));

test.skipIf(!goldenDir || !built)('npx longseq generate prints the greedy tokens and the decode rate', async () => {
  const out = spawnSync(process.execPath, [cli, 'generate', model, '--prompt-ids', '4,8,15,16', '--max-new-tokens', '5', '--backend', 'js'], {
    encoding: 'utf8',
  });
  expect(out.status, out.stderr).toBe(0);
  const m = await loadModel(model, { ls: await backend('js') });
  const [expected] = await m.generate([[4, 8, 15, 16]], { maxNewTokens: 5 });
  expect(out.stdout.trim().split(' ').map(Number)).toEqual(expected);
  expect(out.stderr).toMatch(/decode: [\d.]+ tokens\/s/);
});

test.skipIf(!built)('usage errors exit with status 2 and say what is wrong', () => {
  const out = spawnSync(process.execPath, [cli, 'generate', 'somewhere', '--prompt-ids', '1,x'], { encoding: 'utf8' });
  expect(out.status).toBe(2);
  expect(out.stderr).toMatch(/--prompt-ids must be integers/);
});
