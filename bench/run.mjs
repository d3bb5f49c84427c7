#!/usr/bin/env node
// The bench runner behind `npm start` and `npm run bench`: every op at the DESIGN §6 configurations on every
// backend available here, through the public API, against the machine's own limits (measured by the native
// longseq-bench binary when it is built). Writes bench/results/<date>.json and the tables in BENCHMARKS.md.
//
//   node bench/run.mjs [--min-time SECONDS] [--time-limit SECONDS] [--backend NAME] [--op NAME] [--no-write]
//   node bench/run.mjs --render bench/results/<date>.json   (rewrites BENCHMARKS.md's tables from a results file)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { available, init } from '../dist/index.node.js';
import { cases as causalConv1dCases } from './cases/causalConv1d.mjs';
import { cases as deltaRuleCases } from './cases/deltaRule.mjs';
import { cases as fftConvCases } from './cases/fftConv.mjs';
import { cases as selectiveScanCases } from './cases/selectiveScan.mjs';
import { cases as ssdScanCases } from './cases/ssdScan.mjs';
import { cases as linearCases } from './cases/linear.mjs';
import { benchInBrowser } from './browser.mjs';
import { loadWasmModule, prepare } from './wasmKernel.mjs';
import { interleavedRatios } from './interleaved.mjs';
import { measureLimits } from './limits.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};
const minSeconds = Number(option('min-time', '1'));
// Each case on each backend gets at most this long: its calls carry an AbortSignal that fires then (native work
// stops at once; the js and wasm backends check it between calls).
const timeLimit = Number(option('time-limit', '120'));
const onlyBackend = option('backend', undefined);
const onlyOp = option('op', undefined);
const write = !argv.includes('--no-write');
const progress = (...m) => process.stderr.write(`${m.join(' ')}\n`);

const ALL_CASES = [...selectiveScanCases, ...ssdScanCases, ...deltaRuleCases, ...causalConv1dCases, ...fftConvCases, ...linearCases].filter((c) => !onlyOp || c.op.startsWith(onlyOp));
// The shapes of the issues' WASM/native goals (one thread): timed in Chromium, and side by side with native.
const GOAL_CASES = [['selectiveScan', 'B1 D1536 N16 L4096'], ['deltaRule recurrent', 'B1 H8 K=V=128 T4096'],
  ['causalConv1d', 'B1 D1536 L4096 W4'], ['fftConv', 'B1 H64 L131072'], ['ssdScan recurrent', 'B1 L4096 H32 P64 N128'],
].filter(([op]) => !onlyOp || op.startsWith(onlyOp));
// Inputs are rotated through this many bytes so consecutive runs do not find them in the caches.
const ROTATE_BYTES = 256 << 20;

const benchBinary = join(root, 'build', 'Release', 'longseq-bench');

function limitsHere() {
  const limits = measureLimits(root);
  if (!limits) progress('  (native bench binary not built: machine limits not measured)');
  return limits;
}

function runNativeBench() {
  if (!existsSync(benchBinary)) return undefined;
  const file = join(os.tmpdir(), `longseq-bench-${process.pid}.json`);
  const args = ['--json', file, '--min-time', String(minSeconds)];
  if (onlyOp) args.push('--op', onlyOp);
  execFileSync(benchBinary, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(readFileSync(file, 'utf8'));
}

// Times run(i) for i = 0, 1, ... after one warm-up, until minSeconds have passed and 3 runs were made; `slow`
// (the js reference) gets a single run without warm-up, enough to place it.
async function time(run, slow = false) {
  if (!slow) await run(0);
  const times = [];
  const start = performance.now();
  for (let i = 0; ; i++) {
    const t0 = performance.now();
    await run(i);
    times.push(performance.now() - t0);
    const elapsed = (performance.now() - start) / 1e3;
    if (slow || (times.length >= 3 && elapsed >= minSeconds)) break;
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[times.length >> 1], minMs: times[0], runs: times.length };
}

function row(r, limits) {
  const seconds = r.medianMs / 1e3;
  const fmaPeak = limits && (r.threads === 1 ? limits.fmaGflops1t : limits.fmaGflopsAll);
  const bandwidth = limits && (r.threads === 1 ? limits.copyGBps1t : limits.copyGBpsAll);
  return {
    ...r,
    melemPerS: r.elements / seconds / 1e6,
    fmaFraction: fmaPeak ? r.flops / seconds / 1e9 / fmaPeak : undefined,
    bwFraction: bandwidth ? r.bytes / seconds / 1e9 / bandwidth : undefined,
  };
}

const rate = (x) => (x >= 10 ? x.toFixed(1) : x.toPrecision(3));
const pct = (x) => (x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);

function table(rows) {
  const header = '| via | backend | op | config | threads | median ms | M elem/s | GFLOP/s | % FMA peak | GB/s | % bandwidth |';
  const lines = [header, '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    const seconds = r.medianMs / 1e3;
    lines.push(`| ${r.via} | ${r.backend} | ${r.op} | ${r.config} | ${r.threads} | ${r.medianMs.toFixed(3)} | ` +
      `${rate(r.melemPerS)} | ${rate(r.flops / seconds / 1e9)} | ${pct(r.fmaFraction)} | ${rate(r.bytes / seconds / 1e9)} | ` +
      `${pct(r.bwFraction)} |`);
  }
  return lines.join('\n');
}

async function main() {
  const date = new Date().toISOString().slice(0, 10);
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  progress(`longseq bench — ${date}, ${cpu}, ${os.cpus().length} hardware threads, Node ${process.versions.node}`);
  progress('measuring the machine limits (FMA peak, copy bandwidth)...');
  const limits = limitsHere();
  if (limits) {
    progress(`  FMA peak ${limits.fmaGflops1t.toFixed(0)} GFLOP/s (1 thread), ${limits.fmaGflopsAll.toFixed(0)} (all); ` +
      `copy ${limits.copyGBps1t.toFixed(1)} GB/s (1 thread), ${limits.copyGBpsAll.toFixed(1)} (all); SIMD ${limits.simdTarget}`);
  }

  const backends = [];
  for (const s of await available()) {
    if (onlyBackend && s.name !== onlyBackend) continue;
    if (!s.available) {
      progress(`backend ${s.name}: not available (${s.reason})`);
      continue;
    }
    if (s.name === 'native') {
      const all = await init({ backend: 'native' });
      backends.push(await init({ backend: 'native', threads: 1 }));
      if (all.threads > 1) backends.push(all);
    } else {
      backends.push(await init({ backend: s.name }));
    }
  }

  const rows = [];
  for (const c of ALL_CASES) {
    // The same inputs for every backend, rotated beyond the caches.
    const copies = Math.max(1, Math.min(4, Math.ceil(ROTATE_BYTES / c.inputBytes)));
    for (const ls of backends) {
      if (ls.backend === 'js' && c.skipJs) continue;
      // Steps update their state in place: fresh inputs per backend keep the runs comparable.
      let inputs = Array.from({ length: copies }, (_, i) => c.make(1000 + i));
      if (c.prepare) inputs = await Promise.all(inputs.map((params) => c.prepare(ls, params)));
      progress(`  ${c.op} ${c.config} on ${ls.backend} (${ls.threads} thread${ls.threads > 1 ? 's' : ''})...`);
      const signal = AbortSignal.timeout(timeLimit * 1000);
      let t;
      try {
        t = await time((i) => c.run(ls, { ...inputs[i % inputs.length], signal }), ls.backend === 'js');
      } catch (e) {
        if (e?.name !== 'TimeoutError' && e?.name !== 'AbortError') throw e;
        progress(`    over the ${timeLimit} s limit: skipped`);
        continue;
      }
      const r = row({ via: 'JS API', backend: ls.backend, op: c.op, config: c.config, threads: ls.threads,
        elements: c.elements, flops: c.flops, bytes: c.bytes, ...t }, limits);
      rows.push(r);
      progress(`    ${r.medianMs.toFixed(2)} ms, ${rate(r.melemPerS)} M elements/s, ${pct(r.fmaFraction)} of FMA peak, ` +
        `${pct(r.bwFraction)} of bandwidth`);
    }
  }

  const wasmBackend = backends.find((ls) => ls.backend === 'wasm');
  const ratios = [];
  if (wasmBackend) {
    // The build the wasm backend took (relaxed SIMD: Node turns it on), and the plain SIMD128 build that engines
    // without relaxed SIMD run, as the Chromium rows do.
    const relaxed = wasmBackend.simdTarget === 'WASM relaxed-SIMD';
    const builds = relaxed ? [['C API', 'longseq-relaxed'], ['C API SIMD128', 'longseq']] : [['C API', 'longseq']];
    const modules = [];
    for (const [via, name] of builds) {
      progress(`wasm module ${name} at its C entry points (inputs already in the heap)...`);
      const m = await loadWasmModule(name);
      modules.push([name === 'longseq-relaxed' ? 'Node relaxed SIMD' : 'Node SIMD128', m]);
      for (const c of ALL_CASES) {
        const kernel = prepare(m, c, c.make(1000));
        if (!kernel) continue;
        const t = await time(() => kernel.run());
        kernel.free();
        rows.push(row({ via, backend: 'wasm', op: c.op, config: c.config, threads: 1, elements: c.elements,
          flops: c.flops, bytes: c.bytes, ...t }, limits));
      }
    }
    if (existsSync(benchBinary)) {
      progress('wasm against native, one thread, at the C entry points, run side by side...');
      const goals = GOAL_CASES.map(([op, config]) => ALL_CASES.find((c) => c.op === op && c.config === config)).filter(Boolean);
      ratios.push(...await interleavedRatios(benchBinary, goals, modules, { progress }));
      for (const r of ratios) progress(`  ${r.op} ${r.config}, ${r.build}: ${r.ratio.toFixed(2)}× native`);
    }
  }

  if (!onlyBackend || onlyBackend === 'wasm') {
    // One configuration per op family, one thread against the threaded build, in a real page.
    if (GOAL_CASES.length > 0) {
      progress('the wasm backend in headless Chromium (crossOriginIsolated: one thread and the threaded build)...');
      const browser = await benchInBrowser(root, GOAL_CASES, minSeconds, benchBinary);
      if (!browser) progress('  (Chromium not installed: skipped)');
      for (const r of browser?.rows ?? []) rows.push(row({ ...r, backend: 'wasm' }, limits));
      for (const r of browser?.ratios ?? []) {
        ratios.push(r);
        progress(`  ${r.op} ${r.config}, ${r.build}: ${r.ratio.toFixed(2)}× native`);
      }
    }
  }

  if (!onlyBackend || onlyBackend === 'native') {
    progress('native bench binary (times the C API directly)...');
    const native = runNativeBench();
    for (const r of native?.results ?? []) {
      rows.push(row({ via: 'C API', backend: 'native', ...r }, limits));
    }
  }

  console.log(`\nlongseq bench — ${date} — ${cpu}, ${os.cpus().length} hardware threads, SIMD ${limits?.simdTarget ?? '?'}\n`);
  console.log(table(rows));
  if (ratios.length > 0) console.log(`\n${ratioTable(ratios)}`);

  if (write) {
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    const file = join(root, 'bench', 'results', `${date}.json`);
    // A partial run (--op, --backend) updates its rows in the day's file and keeps the others.
    const key = (r) => [r.via, r.backend, r.op, r.config, r.threads].join('|');
    const before = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
    const result = { date, cpu, hardwareThreads: os.cpus().length, node: process.versions.node, limits,
      rows: mergeRows(before.rows ?? [], rows, key),
      ratios: mergeRows(before.ratios ?? [], ratios, (r) => [r.op, r.config, r.build].join('|')) };
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    updateBenchmarksMd(result);
    progress(`\nwrote ${file} and BENCHMARKS.md`);
  }
}

// The previous rows with those of `fresh` in their place, then fresh's new ones.
function mergeRows(previous, fresh, key) {
  const byKey = new Map(fresh.map((r) => [key(r), r]));
  const seen = new Set(previous.map(key));
  return [...previous.map((r) => byKey.get(key(r)) ?? r), ...fresh.filter((r) => !seen.has(key(r)))];
}

function ratioTable(ratios) {
  const lines = ['WASM / native, one thread, at the C entry points, run side by side (bench/sideBySide.mjs; in Node and in ' +
    'headless Chromium, longseq-bench serving the native runs): per round, the median of 3 native runs, then of 3 runs of ' +
    'each WASM build; medians over the rounds.', '',
  '| op | config | WASM build | rounds | native ms | WASM ms | WASM / native speed (median of rounds) | range |',
  '|---|---|---|---:|---:|---:|---:|---|'];
  for (const r of ratios) {
    lines.push(`| ${r.op} | ${r.config} | ${r.build} | ${r.rounds} | ${r.nativeMs.toFixed(2)} | ${r.wasmMs.toFixed(2)} | ` +
      `**${r.ratio.toFixed(2)}×** | ${r.ratioMin.toFixed(2)}–${r.ratioMax.toFixed(2)} |`);
  }
  return lines.join('\n');
}

// Replaces the generated section of BENCHMARKS.md (between the markers), leaving the hand-written text alone.
function updateBenchmarksMd(result) {
  const file = join(root, 'BENCHMARKS.md');
  const begin = '<!-- bench:begin -->';
  const end = '<!-- bench:end -->';
  const l = result.limits;
  const section = [
    begin,
    `Measured ${result.date} on ${result.cpu} (${result.hardwareThreads} hardware threads), Node ${result.node}` +
      (l ? `, SIMD target ${l.simdTarget}.` : '.'),
    '',
    l
      ? `Machine limits (measured by longseq-bench): float32 FMA peak ${l.fmaGflops1t.toFixed(0)} GFLOP/s on 1 thread, ` +
        `${l.fmaGflopsAll.toFixed(0)} on all; copy bandwidth ${l.copyGBps1t.toFixed(1)} GB/s on 1 thread, ${l.copyGBpsAll.toFixed(1)} on all.`
      : 'Machine limits: not measured (native bench binary not built).',
    '',
    table(result.rows),
    ...(result.ratios?.length ? ['', ratioTable(result.ratios)] : []),
    end,
  ].join('\n');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : `# Benchmarks\n\n${begin}\n${end}\n`;
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  const updated = from >= 0 && to > from ? text.slice(0, from) + section + text.slice(to + end.length) : `${text}\n${section}\n`;
  writeFileSync(file, updated);
}

const render = option('render', undefined);
(render ? Promise.resolve(updateBenchmarksMd(JSON.parse(readFileSync(render, 'utf8')))) : main()).catch((e) => {
  console.error(e);
  process.exit(1);
});
