#!/usr/bin/env node
// longseq's command line (needs a build: npm run build).
//
//   npx longseq generate <model folder or URL> --prompt-ids 1,2,3 [--max-new-tokens 32] [--temperature 0]
//       [--top-k 0] [--top-p 1] [--seed 0] [--backend cuda|native|wasm|js] [--threads N]
//
// Prints the new token ids as they come, then the prefill time and the decode rate in tokens/s.
import { init } from '../dist/index.node.js';
import { loadModel } from '../dist/models/index.node.js';

const USAGE = `usage: longseq generate <model folder or URL> --prompt-ids 1,2,3 [--max-new-tokens 32] [--temperature 0]
                        [--top-k 0] [--top-p 1] [--seed 0] [--backend cuda|native|wasm|js] [--threads N]`;

function fail(message) {
  console.error(`longseq: ${message}\n${USAGE}`);
  process.exit(2);
}

function parse(argv) {
  const [command, source, ...rest] = argv;
  if (command !== 'generate' || !source) fail(command ? `unknown command '${command}'` : 'no command');
  const options = {};
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, value] = [rest[i], rest[i + 1]];
    if (!flag.startsWith('--') || value === undefined) fail(`expected --flag value, got '${flag}'`);
    options[flag.slice(2)] = value;
  }
  const known = ['prompt-ids', 'max-new-tokens', 'temperature', 'top-k', 'top-p', 'seed', 'backend', 'threads'];
  for (const key of Object.keys(options)) if (!known.includes(key)) fail(`unknown option --${key}`);
  if (!options['prompt-ids']) fail('--prompt-ids is required (token ids, comma-separated)');
  const ids = options['prompt-ids'].split(',').map((s) => Number(s.trim()));
  if (ids.some((v) => !Number.isInteger(v))) fail(`--prompt-ids must be integers, got '${options['prompt-ids']}'`);
  const num = (key, fallback) => (options[key] === undefined ? fallback : Number(options[key]));
  return {
    source, ids, backend: options.backend, threads: options.threads && Number(options.threads),
    generate: {
      maxNewTokens: num('max-new-tokens', 32), temperature: num('temperature', 0), topK: num('top-k', 0),
      topP: num('top-p', 1), seed: num('seed', 0),
    },
  };
}

const args = parse(process.argv.slice(2));
const ls = await init({ ...(args.backend && { backend: args.backend }), ...(args.threads && { threads: args.threads }) });
const model = await loadModel(args.source, { ls });
console.error(`model: ${model.config.architectures?.[0] ?? model.config.model_type}, ${model.numLayers} layers, vocab ${model.vocabSize}; backend: ${ls.backend} (${ls.description})`);
const start = performance.now();
let firstToken;
const [tokens] = await model.generate([args.ids], {
  ...args.generate,
  onToken: ([token]) => {
    firstToken ??= performance.now();
    if (token >= 0) process.stdout.write(`${token} `);
  },
});
const end = performance.now();
process.stdout.write('\n');
const decoded = tokens.length - 1;
console.error(
  `prefill of ${args.ids.length} tokens: ${(firstToken - start).toFixed(1)} ms; ` +
    (decoded > 0 ? `decode: ${((decoded * 1000) / (end - firstToken)).toFixed(1)} tokens/s over ${decoded} tokens` : 'no decode steps'),
);
