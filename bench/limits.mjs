// The machine's limits as longseq-bench --limits measures them (FMA peak, copy and read bandwidth), for the JS
// bench scripts; undefined when the bench binary is not built.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

export function measureLimits(root) {
  const binary = join(root, 'build', 'Release', 'longseq-bench');
  if (!existsSync(binary)) return undefined;
  const file = join(os.tmpdir(), `longseq-limits-${process.pid}.json`);
  execFileSync(binary, ['--limits', '--json', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(readFileSync(file, 'utf8')).limits;
}
