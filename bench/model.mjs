#!/usr/bin/env node
// Decode speed of a model of mamba-130m's shape (d_model 768, 24 layers, vocab 50280, d_state 16, random
// weights), against the bound of reading every weight once per token at the machine's copy bandwidth
// (read bandwidth, measured by longseq-bench --limits). Needs a build (npm run build).
//
//   node bench/model.mjs [--backend native] [--threads N] [--tokens 32] [--no-write]
//
// Writes bench/results/<date>-model.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, tensor, writeSafetensors } from '../dist/index.node.js';
import { loadModel } from '../dist/models/index.node.js';
import { measureLimits } from './limits.mjs';
import { random } from './random.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const tokens = Number(option('tokens', '32'));
const backendName = option('backend', 'native');
const threads = option('threads', undefined);

// mamba-130m (state-spaces/mamba-130m-hf): the same tensors, random values.
const config = {
  architectures: ['MambaForCausalLM'], model_type: 'mamba', hidden_size: 768, intermediate_size: 1536, state_size: 16,
  num_hidden_layers: 24, vocab_size: 50280, conv_kernel: 4, time_step_rank: 48, layer_norm_epsilon: 1e-5,
  eos_token_id: 0, tie_word_embeddings: true,
};
const [H, I, N, R, W, V] = [768, 1536, 16, 48, 4, 50280];
const r = random(7);
const weights = { 'backbone.embeddings.weight': tensor(r.floats(V * H, -0.05, 0.05), [V, H]), 'backbone.norm_f.weight': tensor(r.floats(H, 0.9, 1.1), [H]) };
for (let l = 0; l < config.num_hidden_layers; l++) {
  const p = `backbone.layers.${l}.`;
  const add = (name, shape, lo, hi) => (weights[p + name] = tensor(r.floats(shape.reduce((a, b) => a * b, 1), lo, hi), shape));
  add('norm.weight', [H], 0.9, 1.1);
  add('mixer.in_proj.weight', [2 * I, H], -0.04, 0.04);
  add('mixer.conv1d.weight', [I, 1, W], -0.5, 0.5);
  add('mixer.conv1d.bias', [I], -0.1, 0.1);
  add('mixer.x_proj.weight', [R + 2 * N, I], -0.03, 0.03);
  add('mixer.dt_proj.weight', [I, R], -0.1, 0.1);
  add('mixer.dt_proj.bias', [I], -4, -2);
  add('mixer.A_log', [I, N], 0, 2.5);
  add('mixer.D', [I], 0.5, 1.5);
  add('mixer.out_proj.weight', [H, I], -0.03, 0.03);
}
const weightBytes = Object.values(weights).reduce((n, t) => n + 4 * t.data.length, 0);
const file = writeSafetensors(weights);
const files = {
  read: async (name) => (name === 'config.json' ? new TextEncoder().encode(JSON.stringify(config)) : name === 'model.safetensors' ? file : undefined),
};

const ls = await init({ backend: backendName, ...(threads && { threads: Number(threads) }) });
const model = await loadModel(files, { ls });
const prompt = Array.from({ length: 16 }, (_, i) => (i * 37) % V);
await model.generate([prompt], { maxNewTokens: 3, eosTokenId: null }); // warm-up
const { state } = await model.prefill([prompt]);
const times = [];
let token = 1;
for (let i = 0; i < tokens; i++) {
  const t0 = performance.now();
  const logits = await model.step(state, [token]);
  times.push(performance.now() - t0);
  token = logits.data.indexOf(Math.max(...logits.data.subarray(0, 1000)));
}
times.sort((a, b) => a - b);
const msPerToken = times[times.length >> 1];

const limits = measureLimits(root);
const bandwidth = limits && (ls.threads === 1 ? limits.readGBps1t : limits.readGBpsAll);
const boundMs = bandwidth ? weightBytes / (bandwidth * 1e9) * 1e3 : undefined;
const result = {
  date: new Date().toISOString().slice(0, 10), cpu: os.cpus()[0]?.model, backend: ls.backend, description: ls.description,
  threads: ls.threads, model: 'mamba-130m shape (random weights)', weightBytes, tokens, msPerToken, tokensPerSecond: 1e3 / msPerToken,
  readGBps: bandwidth, boundMsPerToken: boundMs, fractionOfBound: boundMs ? boundMs / msPerToken : undefined,
};
console.log(
  `${result.model} on ${ls.backend} (${ls.description}): ${msPerToken.toFixed(1)} ms/token, ${result.tokensPerSecond.toFixed(1)} tokens/s` +
    (boundMs ? `; reading the ${(weightBytes / 1e6).toFixed(0)} MB of weights at ${bandwidth.toFixed(1)} GB/s takes ${boundMs.toFixed(1)} ms: ${(100 * result.fractionOfBound).toFixed(0)}% of that bound` : ''),
);
if (!argv.includes('--no-write')) {
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  const path = join(root, 'bench', 'results', `${result.date}-model-${ls.backend}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${path}`);
}
