/**
 * rnnqa for browsers: load a bundle from a URL with onnxruntime-web (WebAssembly) and answer on the client.
 *
 *   import { load } from 'rnnqa';          // resolved to this file by bundlers and import maps
 *   const model = await load('/bundle/');
 *   const answer = await model.answer('What is the capital of Peru?');
 */

import * as ort from 'onnxruntime-web';

import { MANIFEST_FILE, SIGNATURE_FILE, checkBundle, parseManifest } from './bundle.js';
import { BundleError } from './errors.js';
import { openModel } from './model.js';
import { webPublicKey } from './signature.js';

export { Answer, QAModel, UNKNOWN_TEXT } from './model.js';
export { BundleError, ConfigError, QuestionError } from './errors.js';
export { webPublicKey } from './signature.js';
export { DeclaredTokenizer } from './tokenizer.js';

/**
 * Fetch, check and load the bundle at `url` (a directory URL, with or without a trailing slash).
 * Every file the manifest lists is fetched, model.torchscript.pt included, and its sha256 checked, as in Python.
 * @param {string | URL} url
 * @param {{threshold?: number, wasmPaths?: string, publicKey?: string | object}} [options] wasmPaths: where
 *   onnxruntime-web's .wasm/.mjs files are served (default: next to its module); publicKey: the PEM text of the
 *   ECDSA public key (or a key from `webPublicKey`) the bundle must be signed with: model.sig is fetched and
 *   verified with Web Crypto before any session exists (a page on https:// or localhost)
 * @returns {Promise<QAModel>} whose `reload` fetches again and uses the same key
 * @throws {BundleError} a file is missing, modified, of another format, or not signed with the key
 * @throws {ConfigError} the key is not an ECDSA P-256/384/521 public key, or the page has no Web Crypto
 */
export async function load(url, options = {}) {
  const { publicKey } = options;
  const key = publicKey === undefined || publicKey === null ? null
    : typeof publicKey === 'object' && typeof publicKey.verify === 'function' ? publicKey : await webPublicKey(publicKey);
  const open = async (source) => {
    const base = new URL(String(source).endsWith('/') ? String(source) : `${source}/`, globalThis.location?.href);
    const manifestBytes = await fetchBytes(new URL(MANIFEST_FILE, base), MANIFEST_FILE);
    const manifest = parseManifest(manifestBytes);
    const contents = {};
    const names = Object.keys(manifest.files); // every file the manifest lists is fetched and hashed
    await Promise.all(names.map(async (name) => { contents[name] = await fetchBytes(new URL(name, base), name); }));
    const signature = key === null ? null : await fetchBytes(new URL(SIGNATURE_FILE, base), SIGNATURE_FILE, true);
    const bundle = await checkBundle(manifest, contents, key === null ? null : { key, signature, manifestBytes });
    ort.env.wasm.numThreads = 1; // one thread needs no cross-origin isolation, and a model this small gains nothing
    if (options.wasmPaths) ort.env.wasm.wasmPaths = options.wasmPaths;
    return openModel(ort, bundle, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' }, options,
      { source, open });
  };
  return open(url);
}

/** The bytes at `url`; with `optional`, null where the server says 404 (a bundle without that file). */
async function fetchBytes(url, name, optional = false) {
  let response;
  try {
    response = await fetch(url, { cache: 'no-cache' }) // revalidated: a reload sees the new files;
  } catch (error) {
    throw new BundleError(name, `cannot fetch ${url}: ${error.message}`);
  }
  if (optional && response.status === 404) return null;
  if (optional && !response.ok) throw new BundleError(name, `cannot fetch ${url}: HTTP ${response.status}`);
  if (!response.ok) throw new BundleError(name, `missing — the bundle is incomplete (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}
