/**
 * rnnqa for browsers: load a bundle from a URL with onnxruntime-web (WebAssembly) and answer on the client.
 *
 *   import { load } from 'rnnqa';          // resolved to this file by bundlers and import maps
 *   const model = await load('/bundle/');
 *   const answer = await model.answer('What is the capital of Peru?');
 */

import * as ort from 'onnxruntime-web';

import { MANIFEST_FILE, checkBundle, parseManifest } from './bundle.js';
import { BundleError } from './errors.js';
import { openModel } from './model.js';

export { Answer, QAModel, UNKNOWN_TEXT } from './model.js';
export { BundleError, QuestionError } from './errors.js';
export { DeclaredTokenizer } from './tokenizer.js';

/**
 * Fetch, check and load the bundle at `url` (a directory URL, with or without a trailing slash).
 * Every file the manifest lists is fetched, model.torchscript.pt included, and its sha256 checked, as in Python.
 * @param {string | URL} url
 * @param {{threshold?: number, wasmPaths?: string}} [options] wasmPaths: where onnxruntime-web's
 *   .wasm/.mjs files are served (default: next to its module)
 * @returns {Promise<QAModel>}
 */
export async function load(url, options = {}) {
  const base = new URL(String(url).endsWith('/') ? String(url) : `${url}/`, globalThis.location?.href);
  const manifest = parseManifest(await fetchBytes(new URL(MANIFEST_FILE, base), MANIFEST_FILE));
  const contents = {};
  const names = Object.keys(manifest.files); // every file the manifest lists is fetched and hashed
  await Promise.all(names.map(async (name) => { contents[name] = await fetchBytes(new URL(name, base), name); }));
  const bundle = await checkBundle(manifest, contents);
  ort.env.wasm.numThreads = 1; // one thread needs no cross-origin isolation, and a model this small gains nothing
  if (options.wasmPaths) ort.env.wasm.wasmPaths = options.wasmPaths;
  return openModel(ort, bundle, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' }, options);
}

async function fetchBytes(url, name) {
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new BundleError(name, `cannot fetch ${url}: ${error.message}`);
  }
  if (!response.ok) throw new BundleError(name, `missing — the bundle is incomplete (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}
