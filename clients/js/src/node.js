/**
 * rnnqa for Node: load a bundle directory with onnxruntime-node and answer questions.
 *
 *   import { load } from 'rnnqa';
 *   const model = await load('artifacts/bundle');
 *   const answer = await model.answer('What is the capital of Peru?');
 *   console.log(answer.known ? answer.text : "I don't know", answer.confidence);
 */

import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import * as ort from 'onnxruntime-node';

import { BUNDLE_FILES, MANIFEST_FILE, ONNX_FILE, checkBundle, checkSession, parseManifest } from './bundle.js';
import { BundleError } from './errors.js';
import { QAModel } from './model.js';

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
  const contents = await readBundle(dir);
  const manifest = parseManifest(contents[MANIFEST_FILE]);
  const bundle = await checkBundle(manifest, contents);
  let session;
  try {
    session = await ort.InferenceSession.create(bundle.onnx, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      logSeverityLevel: 3,
    });
  } catch (error) {
    throw new BundleError(ONNX_FILE, `onnxruntime cannot load it: ${error.message}`);
  }
  await checkSession(bundle, session, ort.Tensor);
  return new QAModel(bundle, session, ort.Tensor, options);
}

/** Every file of the bundle directory, refusing what Python's loader refuses: links, extras, missing files. */
async function readBundle(dir) {
  let names;
  try {
    if ((await lstat(dir)).isSymbolicLink()) throw new Error('a symbolic link');
    names = await readdir(dir);
  } catch {
    throw new BundleError(String(dir), 'not a bundle directory (export one with qa-export)');
  }
  for (const name of names.sort()) {
    const stat = await lstat(join(dir, name));
    if (stat.isSymbolicLink()) throw new BundleError(name, 'is a symbolic link; a bundle holds regular files only');
    if (!stat.isFile()) throw new BundleError(name, 'is not a regular file');
    if (!BUNDLE_FILES.includes(name)) {
      throw new BundleError(name, `unexpected file in the bundle (a bundle holds exactly ${BUNDLE_FILES.join(', ')})`);
    }
    if (stat.size > MAX_FILE_BYTES) throw new BundleError(name, `larger than ${MAX_FILE_BYTES >> 20} MiB`);
  }
  const missing = BUNDLE_FILES.filter((name) => !names.includes(name));
  if (missing.length) throw new BundleError(missing[0], 'missing — the bundle is incomplete');
  const contents = {};
  for (const name of BUNDLE_FILES) contents[name] = new Uint8Array(await readFile(join(dir, name)));
  return contents;
}
