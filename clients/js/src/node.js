/**
 * rnnqa for Node: load a bundle directory with onnxruntime-node and answer questions.
 *
 *   import { load } from 'rnnqa';
 *   const model = await load('artifacts/bundle');
 *   const answer = await model.answer('What is the capital of Peru?');
 *   console.log(answer.known ? answer.text : "I don't know", answer.confidence);
 */

import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import * as ort from 'onnxruntime-node';

import { MANIFEST_FILE, SIGNATURE_FILE, checkBundle, parseManifest } from './bundle.js';
import { BundleError } from './errors.js';
import { openModel } from './model.js';

export { Answer, QAModel, UNKNOWN_TEXT } from './model.js';
export { BundleError, QuestionError } from './errors.js';
export { DeclaredTokenizer } from './tokenizer.js';

const MAX_FILE_BYTES = 512 * 1024 * 1024;

/**
 * Check and load the bundle directory `dir` (written by qa-export).
 * @param {string} dir
 * @param {{threshold?: number, threads?: number}} [options] threshold: overrides the manifest's;
 *   threads: onnxruntime intra-op threads (default 1)
 * @returns {Promise<QAModel>}
 * @throws {BundleError} the bundle is missing, incomplete, modified, of another format, or its
 *   tokenizer is not declared as data (bundles of runs trained before rnnqa's version-2 tokenizer)
 */
export async function load(dir, options = {}) {
  const { manifest, contents } = await readBundle(dir);
  const bundle = await checkBundle(manifest, contents);
  return openModel(ort, bundle, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: options.threads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 3,
  }, options);
}

/**
 * The manifest and every file of the bundle directory, refusing what Python's loader refuses, in its
 * order: links and non-regular files, then the manifest's format, then extra and missing files (a signature
 * file is allowed, and not read).
 */
async function readBundle(dir) {
  const root = resolve(String(dir)); // without a trailing "/", so lstat sees a link to a directory as a link
  let names;
  try {
    if ((await lstat(root)).isSymbolicLink()) throw new Error('a symbolic link');
    names = (await readdir(root)).sort();
  } catch {
    throw new BundleError(String(dir), 'not a bundle directory (export one with qa-export)');
  }
  for (const name of names) {
    const stat = await lstat(join(root, name));
    if (stat.isSymbolicLink()) throw new BundleError(name, 'is a symbolic link; a bundle holds regular files only');
    if (!stat.isFile()) throw new BundleError(name, 'is not a regular file');
    if (stat.size > MAX_FILE_BYTES) throw new BundleError(name, `larger than ${MAX_FILE_BYTES >> 20} MiB`);
  }
  if (!names.includes(MANIFEST_FILE)) throw new BundleError(MANIFEST_FILE, 'missing — the bundle is incomplete');
  const manifest = parseManifest(new Uint8Array(await readFile(join(root, MANIFEST_FILE))));
  const files = [...Object.keys(manifest.files), MANIFEST_FILE];
  for (const name of names) {
    if (!files.includes(name) && name !== SIGNATURE_FILE) {
      throw new BundleError(name, `unexpected file in the bundle (a bundle holds exactly ${files.join(', ')})`);
    }
  }
  const missing = files.filter((name) => !names.includes(name));
  if (missing.length) throw new BundleError(missing[0], 'missing — the bundle is incomplete');
  const contents = {};
  for (const name of Object.keys(manifest.files)) contents[name] = new Uint8Array(await readFile(join(root, name)));
  return { manifest, contents };
}
