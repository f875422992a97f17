/**
 * Check a bundle's files before any session exists, as Python's rnnqa.runtime.bundle does:
 * format, the sha256 of every file, the declared tokenizer, vocabulary against manifest and graph.
 * Works on bytes, so Node (files) and the browser (fetch) share it.
 */

import { BundleError } from './errors.js';
import { SubstitutionGate } from './gate.js';
import { ProtobufError, inspectOnnx } from './onnx_inspect.js';
import { sha256 } from './sha256.js';
import { verifySignature } from './signature.js';
import { DeclaredTokenizer } from './tokenizer.js';

export const FORMAT_NAME = 'rnnqa-bundle';
/** 4: model_single.onnx and gate.json may be listed; 3: the same without them; 5: as 4, the single graph
 * stopping at the softmax (`probabilities` [1, answers]) where 4's decoded it (answer_index, confidence). */
export const FORMAT_VERSIONS = [3, 4, 5];
export const MANIFEST_FILE = 'manifest.json';
export const ONNX_FILE = 'model.onnx';
export const VOCAB_FILE = 'vocab.json';
export const CONFORMANCE_FILE = 'conformance.json';
export const BUNDLE_FILES = [ONNX_FILE, 'model.torchscript.pt', VOCAB_FILE, CONFORMANCE_FILE, MANIFEST_FILE];
/** Files a bundle may hold besides (Hugging Face tokenizers' form of the tokenizer, the ORT-format graph and
 * its reduced-build config, the single-question graph and the substitution gate's tables); hashed when
 * listed. This runtime answers with model.onnx, which applies the gate itself. */
export const SINGLE_FILE = 'model_single.onnx';
export const GATE_FILE = 'gate.json';
export const FORMAT_4_FILES = [SINGLE_FILE, GATE_FILE];
export const OPTIONAL_FILES = ['tokenizer.json', 'tokenizer_config.json', 'model.ort', 'required_operators.config',
  ...FORMAT_4_FILES];
/** manifest.variant → the files of BUNDLE_FILES it leaves out: an int8 bundle has no TorchScript. */
export const VARIANTS = { fp32: [], int8: ['model.torchscript.pt'] };
/** A signed bundle's OpenSSF signature (written after the manifest, so not listed in it): allowed always, read
 * only when a public key is given (signature.js). */
export { SIGNATURE_FILE } from './signature.js';
export const INPUT_NAMES = ['input_ids', 'lengths'];
export const OUTPUT_NAMES = ['logits', 'probabilities', 'answer_index', 'confidence'];

/**
 * @typedef {object} Bundle
 * @property {object} manifest
 * @property {{tokens: string[], answers: string[], padId: number, unkId: number,
 *             index: Map<string, number>, tokenizer: DeclaredTokenizer, ids: (text: string) => number[]}} vocab
 *   (ids: text → token ids, uncut: DeclaredTokenizer.idEncoder)
 * @property {Uint8Array} onnx the graph's bytes, exactly those hashed
 * @property {string | null} signedBy the fingerprint of the key its signature was verified with (null: no key)
 */

/** The manifest, checked: format, version, files, max_len, threshold. */
export function parseManifest(bytes) {
  let written = [];
  const manifest = parseJson(MANIFEST_FILE, bytes, (numbers) => { written = numbers; });
  const notInteger = (name) => written.find(([, key, depth]) => key === name && depth === 1)?.[0];
  if (manifest === null || typeof manifest !== 'object' || manifest.format !== FORMAT_NAME) {
    throw new BundleError(MANIFEST_FILE, `not an ${FORMAT_NAME} manifest`);
  }
  if (!FORMAT_VERSIONS.includes(manifest.format_version) || notInteger('format_version')) { // not 3.0, as in Python
    throw new BundleError(MANIFEST_FILE, `unsupported format version ${notInteger('format_version') ?? JSON.stringify(manifest.format_version)} ` +
      `(this runtime reads ${FORMAT_VERSIONS.slice(0, -1).join(', ')} and ${FORMAT_VERSIONS.at(-1)}; export the run again with a current qa-export)`);
  }
  const optional = manifest.format_version === 3 ? OPTIONAL_FILES.filter((f) => !FORMAT_4_FILES.includes(f)) : OPTIONAL_FILES;
  const variant = 'variant' in manifest ? manifest.variant : 'fp32';
  if (typeof variant !== 'string' || !Object.hasOwn(VARIANTS, variant)) {
    throw new BundleError(MANIFEST_FILE, `unknown variant ${JSON.stringify(variant)} (this runtime reads ` +
      `${Object.keys(VARIANTS).join(', ')})`);
  }
  const expected = BUNDLE_FILES.filter((f) => f !== MANIFEST_FILE && !VARIANTS[variant].includes(f)).sort();
  const files = manifest.files;
  const required = files !== null && typeof files === 'object' ? Object.keys(files).filter((f) => !optional.includes(f)) : [];
  if (JSON.stringify(required.sort()) !== JSON.stringify(expected)) {
    throw new BundleError(MANIFEST_FILE, `'files' must list the sha256 of exactly ${expected.join(', ')} ` +
      `(and ${optional.join(', ')} when present)`);
  }
  if (notInteger('max_len')) throw new BundleError(MANIFEST_FILE, "missing or invalid 'max_len'");
  if (!Number.isInteger(manifest.max_len) || manifest.max_len < 1 || typeof manifest.threshold !== 'number' ||
      !(manifest.threshold >= 0 && manifest.threshold <= 1)) {
    throw new BundleError(MANIFEST_FILE, "'max_len' must be ≥ 1 and 'threshold' in [0, 1]");
  }
  const model = manifest.model !== null && typeof manifest.model === 'object' ? manifest.model : {};
  const questions = Object.hasOwn(model, 'gate_questions') ? model.gate_questions : 0; // null refused, as in Python
  const fraction = written.some(([, key, depth]) => key === 'gate_questions' && depth === 2); // 5.0, as in Python
  if (fraction || !Number.isInteger(questions) || questions < 0) {
    throw new BundleError(MANIFEST_FILE, "'model.gate_questions' must be an integer ≥ 0 (0: no substitution gate)");
  }
  return manifest;
}

/**
 * Check every file against the manifest and, given a key, the signature over them all; build the bundle.
 * @param {object} manifest from parseManifest
 * @param {Record<string, Uint8Array>} contents every file but the manifest, by name
 * @param {{key: object, signature: Uint8Array | null, manifestBytes: Uint8Array} | null} [signed] with a key
 *   (signature.js), the signature file's bytes (null: the bundle has none) and the manifest's bytes as parsed
 * @returns {Promise<Bundle>}
 */
export async function checkBundle(manifest, contents, signed = null) {
  for (const name of Object.keys(manifest.files).sort()) {
    if (!(name in contents)) throw new BundleError(name, 'missing — the bundle is incomplete');
    if (await sha256(contents[name]) !== manifest.files[name]) {
      throw new BundleError(name, 'sha256 mismatch — the bundle was modified or is incomplete');
    }
  }
  if (signed !== null) { // the bytes just hashed, before any is parsed: what is verified is what is used
    const files = Object.fromEntries(Object.keys(contents).sort().map((name) => [name, contents[name]]));
    await verifySignature(signed.signature, { ...files, [MANIFEST_FILE]: signed.manifestBytes }, signed.key);
  }
  const vocab = parseVocab(parseJson(VOCAB_FILE, contents[VOCAB_FILE], (numbers) => {
    if (numbers.length) { // every number in vocab.json is an integer written as one (docs/tokenizer.md), as in Python
      throw new BundleError(VOCAB_FILE, `not a valid vocabulary: the number ${numbers[0][0]} is not written as an ` +
        `integer (every number in ${VOCAB_FILE} is one)`);
    }
  }));
  const model = manifest.model ?? {};
  if (model.vocab_size !== vocab.tokens.length || model.num_answers !== vocab.answers.length) {
    throw new BundleError(VOCAB_FILE, `${vocab.tokens.length} tokens / ${vocab.answers.length} answers, but the ` +
      `manifest's model has ${model.vocab_size} / ${model.num_answers}`);
  }
  checkGraph(contents[ONNX_FILE], vocab.answers.length);
  const single = contents[SINGLE_FILE] ?? null;
  const gate = checkSingle(manifest, vocab, single, contents[GATE_FILE] ?? null);
  return { manifest, vocab, onnx: contents[ONNX_FILE], single, gate, signedBy: signed === null ? null : signed.key.fingerprint };
}

/** model_single.onnx's interface, and gate.json present exactly when the model has a gate (as in Python). */
function checkSingle(manifest, vocab, single, gate) {
  if (single === null) {
    if (gate !== null) throw new BundleError(GATE_FILE, `present without ${SINGLE_FILE}`);
    return null;
  }
  const graph = inspect(SINGLE_FILE, single);
  const io = JSON.stringify([graph.inputs, graph.outputs]);
  const outputs = manifest.format_version === 4 ? [['answer_index', INT64, [1, 1]], ['confidence', FLOAT, [1, 1]]]
    : [['probabilities', FLOAT, [1, vocab.answers.length]]];
  const expected = JSON.stringify([[['input_ids', INT64, ['seq', 1]]], outputs]);
  if (io !== expected) throw new BundleError(SINGLE_FILE, `graph inputs and outputs ${io}, expected ${expected}`);
  const gated = (manifest.model?.gate_questions ?? 0) > 0;
  if (gate === null) {
    if (gated) {
      throw new BundleError(GATE_FILE, `missing: the model has a substitution gate, which ${SINGLE_FILE} leaves ` +
        'to the runtime');
    }
    return null;
  }
  if (!gated) throw new BundleError(GATE_FILE, "present, but the manifest's model has no substitution gate");
  try {
    return new SubstitutionGate(parseJson(GATE_FILE, gate), vocab.tokens.length, vocab.answers.length);
  } catch (error) {
    if (error instanceof BundleError) throw new BundleError(GATE_FILE, `not a valid gate table: ${error.reason}`);
    throw new BundleError(GATE_FILE, `not a valid gate table: ${error.message}`);
  }
}

/** The graph's interface, read without onnxruntime; refused when not ONNX or not self-contained. */
function inspect(name, bytes) {
  let graph;
  try {
    graph = inspectOnnx(bytes);
  } catch (error) {
    if (error instanceof ProtobufError) throw new BundleError(name, `not an ONNX model: ${error.message}`);
    throw error;
  }
  if (graph.externalTensors) {
    throw new BundleError(name, `${graph.externalTensors} tensor(s) reference external data; ` +
      "a bundle's graph must be self-contained");
  }
  return graph;
}

const INT64 = 7;
const FLOAT = 1;

/** The graph, read before onnxruntime sees it: self-contained, with the contract's inputs and outputs. */
function checkGraph(bytes, answers) {
  const graph = inspect(ONNX_FILE, bytes);
  const inputs = JSON.stringify(graph.inputs.map(([name, elem]) => [name, elem]));
  if (inputs !== JSON.stringify(INPUT_NAMES.map((name) => [name, INT64]))) {
    throw new BundleError(ONNX_FILE, `graph inputs are ${inputs}, expected int64 ${INPUT_NAMES.join(', ')}`);
  }
  const expected = JSON.stringify([['logits', FLOAT, ['batch', answers]], ['probabilities', FLOAT, ['batch', answers]],
    ['answer_index', INT64, ['batch']], ['confidence', FLOAT, ['batch']]]);
  if (JSON.stringify(graph.outputs) !== expected) {
    throw new BundleError(ONNX_FILE, `graph outputs are ${JSON.stringify(graph.outputs)}, expected ${expected} ` +
      `(${answers} answers, to match ${VOCAB_FILE})`);
  }
}

/** The session's names must be the graph contract, and a probe question must get a valid answer of the
 * contract's types and shapes. Returns the probe's outputs. */
export async function checkSession(bundle, session, Tensor) {
  const names = [[...session.inputNames], [...session.outputNames]];
  if (JSON.stringify(names) !== JSON.stringify([INPUT_NAMES, OUTPUT_NAMES])) {
    throw new BundleError(ONNX_FILE, `session inputs/outputs are ${JSON.stringify(names)}`);
  }
  const answers = bundle.vocab.answers.length;
  let out;
  try {
    out = await session.run({
      input_ids: new Tensor('int64', BigInt64Array.from([BigInt(bundle.vocab.unkId)]), [1, 1]),
      lengths: new Tensor('int64', BigInt64Array.from([1n]), [1]),
    });
  } catch (error) {
    throw new BundleError(ONNX_FILE, `the graph fails on a probe question: ${error.message}`);
  }
  const shapes = OUTPUT_NAMES.map((name) => `${out[name].type}[${out[name].dims}]`).join(', ');
  if (shapes !== `float32[1,${answers}], float32[1,${answers}], int64[1], float32[1]`) {
    throw new BundleError(ONNX_FILE, `graph outputs are ${shapes}, expected float32 logits and probabilities ` +
      `[1, ${answers}], int64 answer_index [1], float32 confidence [1] (${answers} answers, to match ${VOCAB_FILE})`);
  }
  const index = Number(out.answer_index.data[0]);
  const confidence = out.confidence.data[0];
  if (!out.logits.data.every(Number.isFinite) || !(index >= 0 && index < answers) || !(confidence >= 0 && confidence <= 1)) {
    throw new BundleError(ONNX_FILE, `the graph answers a probe with answer_index ${index}, confidence ${confidence}: ` +
      'not a valid answer');
  }
  return out;
}

function parseVocab(data) {
  const strings = (x) => Array.isArray(x) && x.every((s) => typeof s === 'string');
  if (data === null || typeof data !== 'object' || !strings(data.tokens) || !strings(data.answers)) {
    throw new BundleError(VOCAB_FILE, "not a valid vocabulary: 'tokens' and 'answers' must be lists of strings");
  }
  if (data.pad_id !== 0 || data.unk_id !== 1 || data.tokens[0] !== '<PAD>' || data.tokens[1] !== '<UNK>') {
    throw new BundleError(VOCAB_FILE, 'not a valid vocabulary: it must start with <PAD>=0, <UNK>=1');
  }
  let tokenizer;
  try {
    tokenizer = new DeclaredTokenizer(data.tokenizer);
  } catch (error) {
    throw new BundleError(VOCAB_FILE, `${error.message}; train the run again with a current qa-train, then export it`);
  }
  const index = new Map(data.tokens.map((token, id) => [token, id]));
  if (index.size !== data.tokens.length) throw new BundleError(VOCAB_FILE, 'not a valid vocabulary: tokens repeat');
  for (const [key, value] of tokenizer.aliases) { // as Python's Vocabulary: an alias leads from outside onto a token
    if (!index.has(value) || index.has(key)) {
      throw new BundleError(VOCAB_FILE, `not a valid vocabulary: tokenizer alias ${JSON.stringify(key)} → ` +
        `${JSON.stringify(value)}: an alias maps a word outside the vocabulary onto a vocabulary token`);
    }
  }
  if (data.answers.length === 0 || new Set(data.answers).size !== data.answers.length) {
    throw new BundleError(VOCAB_FILE, 'not a valid vocabulary: answers must be non-empty and unique');
  }
  return { tokens: data.tokens, answers: data.answers, padId: 0, unkId: 1, index, tokenizer, ids: tokenizer.idEncoder(index, 1) };
}

/** JSON in UTF-8, without a byte order mark (refused, as Python's json refuses it). `check`, given the numbers
 * written in it with a fraction or an exponent, may refuse it: JSON.parse reads 97.0 as 97, which Python (and
 * typed languages) refuse where an integer is due. */
function parseJson(name, bytes, check = null) {
  let text;
  let data;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    data = JSON.parse(text);
  } catch (error) {
    throw new BundleError(name, `not valid JSON: ${error.message}`);
  }
  if (check) check(nonIntegerNumbers(text));
  return data;
}

/**
 * The numbers of the valid JSON `text` written with a fraction or an exponent, as [literal, key, depth]: key is
 * the object key whose value the number is (null in an array), depth 1 the top-level object or array.
 */
function nonIntegerNumbers(text) {
  const found = [];
  let depth = 0;
  let inObject = [];
  let key = null;
  let string = null;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      string = text.slice(i, j + 1);
      i = j;
    } else if (c === ':') {
      key = JSON.parse(string);
    } else if (c === '{' || c === '[') {
      depth += 1;
      inObject = [...inObject, c === '{'];
      key = null;
    } else if (c === '}' || c === ']' || c === ',') {
      if (c !== ',') {
        depth -= 1;
        inObject = inObject.slice(0, -1);
      }
      key = null;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      let j = i;
      while (j < text.length && '+-0123456789.eE'.includes(text[j])) j += 1;
      const literal = text.slice(i, j);
      if (/[.eE]/.test(literal)) found.push([literal, inObject[depth - 1] ? key : null, depth]);
      i = j - 1;
    }
  }
  return found;
}
