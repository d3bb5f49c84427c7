/**
 * Issue 9's fuzz: 5,000 malformed calls per backend, in a child process so that a crash would show as a dead
 * child rather than take the test runner down. Every call must reject with a TypeError or RangeError whose
 * message names the op and the argument, a rejected step must leave its state untouched, and the backend must
 * still work afterwards.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { testBackends } from './helpers/backends.js';

const script = new URL('./child/fuzz.mjs', import.meta.url).pathname;
const built = existsSync(new URL('../dist/index.node.js', import.meta.url));

describe.each(testBackends)('fuzz on $name', (b) => {
  (b.available && built ? test : test.skip)('5,000 malformed calls: only TypeError/RangeError, naming the argument; no crash', () => {
    const run = spawnSync(process.execPath, [script, b.name, '5000', '7'], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, `child exited with ${run.status} (${run.signal}); stderr: ${run.stderr}`).toBe(0);
    const report = JSON.parse(run.stdout.trim().split('\n').pop()!);
    expect(report.failures).toEqual([]);
    expect(report.rejectedAsExpected).toBe(5000);
  });
});
