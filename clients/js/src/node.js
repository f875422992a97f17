/**
 * rnnqa for Node: load a bundle directory with onnxruntime-node and answer questions.
 *
 *   import { load } from 'rnnqa';
 *   const model = await load('artifacts/bundle');
 *   const answer = await model.answer('What is the capital of Peru?');
 *   console.log(answer.known ? answer.text : "I don't know", answer.confidence);
 */

import { createHash, createPublicKey, verify } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';

import { MANIFEST_FILE, SIGNATURE_FILE, checkBundle, parseManifest } from './bundle.js';
import { BundleError, ConfigError } from './errors.js';
import { openModel } from './model.js';
import { OrtError, openDirect } from './ortc.js';
import { CURVES, PUBLIC_KEY_ENV, pemToDer } from './signature.js';

export { Answer, QAModel, UNKNOWN_TEXT } from './model.js';
export { BundleError, ConfigError, QuestionError } from './errors.js';
export { PUBLIC_KEY_ENV, webPublicKey } from './signature.js';
export { DeclaredTokenizer } from './tokenizer.js';

const MAX_FILE_BYTES = 512 * 1024 * 1024;

/**
 * onnxruntime-node's native session class, for the one-question graph: the package's public `run` waits one
 * event-loop turn (setImmediate) and checks and re-wraps feeds and outputs on every call, about a tenth of an
 * answer (BENCHMARKS.md, "Node and browser"). It is the class the public session wraps, loaded and initialised
 * the way the package does; null where an onnxruntime-node lays its files out otherwise (the public `run` serves).
 */
const SYNC_BINDING = (() => {
  try {
    const module = createRequire(import.meta.url)('onnxruntime-node/dist/binding');
    if (typeof module.initOrt !== 'function' || typeof module.binding?.InferenceSession !== 'function') return null;
    return module;
  } catch {
    return null;
  }
})();

/**
 * A session on `bytes` for `answer`: through onnxruntime's C API (ortc.js) unless `direct` is false or it is not
 * available here, else on the native binding, with `runSync(feeds, fetches)` (the outputs as the public `run`
 * gives them) and `run`.
 */
function openSync(bytes, sessionOptions, layout, direct) {
  SYNC_BINDING.initOrt(); // once, at the first session as the package does, so ort.env.logLevel set before counts
  try {
    const session = direct ? openDirect(bytes, sessionOptions, layout) : null;
    if (session !== null) return session;
  } catch (error) {
    if (error instanceof OrtError) throw error; // the graph refused: the binding would refuse it too
    // anything else (koffi, options the C API path does not set): the binding serves, with the same answers
  }
  const native = new SYNC_BINDING.binding.InferenceSession();
  native.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, sessionOptions);
  const runSync = (feeds, fetches) => {
    const outputs = {};
    for (const name of fetches) outputs[name] = null; // null: onnxruntime allocates it
    // No third argument: the binding then runs with the RunOptions it made once, where an options object
    // (even {}) builds and parses new ones on every call (~0.7 µs of an answer, BENCHMARKS.md).
    return native.run(feeds, outputs);
  };
  return { engine: 'onnxruntime-node binding', runSync, run: async (feeds, fetches) => runSync(feeds, fetches) };
}

/**
 * Check and load the bundle directory `dir` (written by qa-export).
 * @param {string} dir
 * @param {{threshold?: number, threads?: number, publicKey?: string | object, directRun?: boolean}} [options] threshold: overrides
 *   the manifest's; threads: onnxruntime intra-op threads (default 1); publicKey: a PEM ECDSA public key (its
 *   path, its text, or a key from `nodePublicKey`/`webPublicKey`) the bundle must be signed with, checked
 *   before any session exists (default: $RNNQA_PUBLIC_KEY's file where set; else signatures are not read);
 *   directRun: false runs `answer` on onnxruntime-node's binding even where onnxruntime's C API can be called
 *   (with koffi installed: docs/javascript.md, "Speed")
 * @returns {Promise<QAModel>} whose `reload` uses the same key
 * @throws {BundleError} the bundle is missing, incomplete, modified, of another format, not signed with the key,
 *   or its tokenizer is not declared as data (bundles of runs trained before rnnqa's version-2 tokenizer)
 * @throws {ConfigError} the key cannot be read, or is not an ECDSA P-256/384/521 public key
 */
export async function load(dir, options = {}) {
  const key = await resolvePublicKey(options.publicKey);
  const open = async (source) => {
    const { manifest, manifestBytes, contents, signature } = await readBundle(source, key !== null);
    const bundle = await checkBundle(manifest, contents, key === null ? null : { key, signature, manifestBytes });
    return openModel(ort, bundle, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      logSeverityLevel: 3,
    }, options, { source, open },
    SYNC_BINDING === null ? null : (bytes, o, layout) => openSync(bytes, o, layout, options.directRun !== false));
  };
  return open(dir);
}

/**
 * A key for `load` from a PEM public key, with node:crypto: `source` is the key file's path, or its PEM text.
 * @throws {ConfigError} the file cannot be read, or holds no ECDSA P-256/384/521 public key
 */
export async function nodePublicKey(source) {
  if (typeof source === 'string' && source.includes('-----BEGIN')) return publicKeyOf(source, 'the public key');
  return publicKeyOf(await readKeyFile(source), String(source));
}

async function readKeyFile(path) {
  try {
    return await readFile(String(path), 'utf8');
  } catch (error) {
    throw new ConfigError(`${path}: cannot read the public key: ${STRERROR[error.code] ?? error.message}`);
  }
}

function publicKeyOf(text, label) {
  const der = pemToDer(text, label);
  let key;
  try {
    key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  } catch (error) {
    throw new ConfigError(`${label}: not a PEM public key (${error.message})`);
  }
  const curve = NODE_CURVES[key.asymmetricKeyDetails?.namedCurve];
  if (key.asymmetricKeyType !== 'ec' || !curve) throw new ConfigError(`${label}: not an ECDSA P-256, P-384 or P-521 public key`);
  const hash = CURVES[curve].hash.replace('-', '').toLowerCase();
  return {
    label,
    curve,
    fingerprint: createHash('sha256').update(key.export({ type: 'spki', format: 'pem' })).digest('hex'),
    async verify(signatureDer, data) {
      try {
        return verify(hash, data, { key, dsaEncoding: 'der' }, signatureDer);
      } catch {
        return false; // not a DER signature
      }
    },
  };
}

const NODE_CURVES = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
/** Python's strerror for the errors reading a key file meets most. */
const STRERROR = { ENOENT: 'No such file or directory', EACCES: 'Permission denied', EISDIR: 'Is a directory' };

/** The key loads must be signed with: `publicKey` if given, else $RNNQA_PUBLIC_KEY's, else null (as in Python). */
async function resolvePublicKey(publicKey) {
  if (publicKey !== undefined && publicKey !== null) {
    return typeof publicKey === 'object' && typeof publicKey.verify === 'function' ? publicKey : nodePublicKey(publicKey);
  }
  const fromEnv = process.env[PUBLIC_KEY_ENV];
  if (fromEnv === undefined) return null;
  if (!fromEnv.trim()) throw new ConfigError(`${PUBLIC_KEY_ENV} is set but empty: name a PEM public key, or unset it`);
  return publicKeyOf(await readKeyFile(fromEnv), fromEnv); // a path, never PEM text: as in Python
}

/**
 * The manifest and every file of the bundle directory, refusing what Python's loader refuses, in its
 * order: links and non-regular files, then the manifest's format, then extra and missing files (a signature
 * file is allowed, and read only when `signed`: null where there is none).
 */
async function readBundle(dir, signed) {
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
  const manifestBytes = new Uint8Array(await readFile(join(root, MANIFEST_FILE)));
  const manifest = parseManifest(manifestBytes);
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
  const signature = signed && names.includes(SIGNATURE_FILE) ? new Uint8Array(await readFile(join(root, SIGNATURE_FILE))) : null;
  return { manifest, manifestBytes, contents, signature };
}
