#!/usr/bin/env node
// Builds everything this machine can build: npm dependencies, the TypeScript library (dist/), the native addon
// and bench binary (build/Release/), and the WASM module (wasm/dist/).
//
// Missing Debian packages are installed when run as root; otherwise the exact apt command is printed and the
// parts that need them are skipped (the js backend always works). Uses only Node built-ins, so it runs on a
// clean clone before `npm ci`.
//
//   node scripts/build.mjs [--no-native] [--no-wasm] [--quiet]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const log = (...m) => console.log('[build]', ...m);

function run(command, commandArgs, options = {}) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: quiet ? 'pipe' : 'inherit', ...options });
  if (result.status !== 0) {
    if (quiet) process.stderr.write(`${result.stdout ?? ''}${result.stderr ?? ''}`);
    throw new Error(`${command} ${commandArgs.join(' ')} failed (exit ${result.status ?? result.signal})`);
  }
}

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

// Debian packages each part needs, with the check that says whether they are present.
const REQUIREMENTS = {
  browser: [{ pkg: 'chromium', ok: () => existsSync('/usr/bin/chromium') }],
  native: [
    { pkg: 'cmake', ok: () => has('cmake') },
    { pkg: 'g++', ok: () => has('g++') || has('c++') },
    { pkg: 'ninja-build', ok: () => has('ninja') },
    { pkg: 'libhwy-dev', ok: () => existsSync('/usr/include/hwy/highway.h') },
  ],
  wasm: [
    { pkg: 'cmake', ok: () => has('cmake') },
    { pkg: 'ninja-build', ok: () => has('ninja') },
    { pkg: 'libhwy-dev', ok: () => existsSync('/usr/include/hwy/highway.h') },
    { pkg: 'emscripten', ok: () => has('emcc') },
    { pkg: 'wabt', ok: () => has('wasm-objdump') },
  ],
};

function missingPackages(parts) {
  const missing = new Set();
  for (const part of parts) for (const r of REQUIREMENTS[part]) if (!r.ok()) missing.add(r.pkg);
  return [...missing];
}

function ensurePackages(parts) {
  const missing = missingPackages(parts);
  if (missing.length === 0) return true;
  const command = `apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() === 0 && has('apt-get')) {
    log(`installing Debian packages: ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    run('apt-get', ['update', '-qq'], { env });
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
    return missingPackages(parts).length === 0;
  }
  log(`missing Debian packages for ${parts.join(' + ')}: ${missing.join(' ')}`);
  log(`install them with:  sudo ${command}`);
  return false;
}

function newerThan(output, inputs) {
  if (!existsSync(output)) return false;
  const built = statSync(output).mtimeMs;
  return inputs.every((f) => !existsSync(f) || statSync(f).mtimeMs <= built);
}

function ensureNodeModules() {
  const lock = join(root, 'package-lock.json');
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (newerThan(marker, [lock])) return;
  log('installing npm dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

function buildTypeScript() {
  log('compiling TypeScript -> dist/');
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
}

function buildNative() {
  log('building the native addon and longseq-bench (cmake-js)');
  run(process.execPath, [join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js'), 'build', '--log-level', 'warn',
    '--parallel', '2']);
}

function buildWasm() {
  log('building the WASM module (emscripten)');
  // Debian's emcc needs its own node modules on NODE_PATH; its cache is prebuilt, so EM_CACHE stays unset.
  const env = { ...process.env, NODE_PATH: '/usr/share/nodejs' };
  delete env.EM_CACHE;
  run('emcmake', ['cmake', '-S', '.', '-B', 'build-wasm', '-G', 'Ninja', '-DCMAKE_BUILD_TYPE=Release'], { env });
  run('cmake', ['--build', 'build-wasm', '--parallel', '2'], { env });
  for (const file of ['longseq.wasm', 'longseq-threads.wasm']) {
    const disassembly = execFileSync('wasm-objdump', ['-d', join(root, 'wasm', 'dist', file)], {
      maxBuffer: 256 << 20,
    }).toString();
    const simd = (disassembly.match(/f32x4\./g) ?? []).length;
    if (simd === 0) throw new Error(`wasm/dist/${file} has no f32x4 instructions: the SIMD build failed`);
    log(`wasm/dist/${file}: ${simd} f32x4 instructions (SIMD128)`);
  }
  // The relaxed-SIMD builds must validate where relaxed SIMD is on (their opcodes were rewritten after linking).
  for (const name of ['longseq', 'longseq-threads']) {
    const file = join(root, 'wasm', 'dist', `${name}-relaxed.wasm`);
    execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '-e',
      `if (!WebAssembly.validate(require('fs').readFileSync(${JSON.stringify(file)}))) process.exit(1)`]);
    log(`wasm/dist/${name}-relaxed.wasm: validates with relaxed SIMD`);
  }
}

function main() {
  const [major] = process.versions.node.split('.').map(Number);
  if (major < 20) throw new Error(`Node.js >= 20 is required, this is ${process.versions.node}`);
  const wanted = ['native', 'wasm'].filter((part) => !args.has(`--no-${part}`));
  const ready = Object.fromEntries(wanted.map((part) => [part, false]));
  // Chromium is for the browser tests only: installed with the rest, nothing to build.
  const packages = [...wanted, ...(args.has('--no-browser') ? [] : ['browser'])];
  if (packages.length > 0) {
    ensurePackages(packages);
    for (const part of wanted) ready[part] = missingPackages([part]).length === 0;
  }
  ensureNodeModules();
  buildTypeScript();
  const built = ['dist (TypeScript, js backend)'];
  const skipped = [];
  for (const part of wanted) {
    if (!ready[part]) {
      skipped.push(`${part} (missing Debian packages: ${missingPackages([part]).join(' ')})`);
      continue;
    }
    (part === 'native' ? buildNative : buildWasm)();
    built.push(part === 'native' ? 'native addon + longseq-bench' : 'wasm modules (one thread, pthreads; SIMD128 and relaxed SIMD)');
  }
  log(`built: ${built.join(', ')}`);
  if (skipped.length > 0) log(`skipped: ${skipped.join(', ')}`);
}

try {
  main();
} catch (e) {
  console.error(`[build] ${e.message}`);
  process.exit(1);
}
