/**
 * The answer API over a checked bundle, for any onnxruntime JavaScript package (node or web).
 * Mirrors Python's rnnqa.runtime.QAModel: answer, answerBatch, topK, probabilities, encode, threshold.
 */

import { checkSession, ONNX_FILE, SINGLE_FILE } from './bundle.js';
import { BundleError, QuestionError } from './errors.js';

export const UNKNOWN_TEXT = "I don't know";
const INPUT_IDS = 'input_ids';
const LENGTHS = 'lengths';
const DECODED = ['answer_index', 'confidence'];

/** The single graph's outputs (`outputs(answers)`: name, element type, dims; `fetches`: their names), and the
 * best answer with its probability from them: format 5's softmax (its argmax taken here: one output tensor,
 * ~1.7 µs less in onnxruntime-node than two) or format 4's pair. */
const SINGLE_FORMS = {
  probabilities: {
    fetches: ['probabilities'],
    outputs: (answers) => [{ name: 'probabilities', type: 'float32', dims: [1, answers] }],
    best: (out) => argmax(out.probabilities.data),
  },
  decoded: {
    fetches: DECODED,
    outputs: () => [{ name: DECODED[0], type: 'int64', dims: [1, 1] }, { name: DECODED[1], type: 'float32', dims: [1, 1] }],
    best: (out) => [Number(out.answer_index.data[0]), out.confidence.data[0]],
  },
};

/** [index, value] of the largest value, the first of equals, or the first NaN (as numpy's argmax). */
export function argmax(values) {
  let best = 0;
  let top = values[0];
  for (let i = 1; i < values.length && top === top; i += 1) { // top !== top: a NaN, which wins
    const value = values[i];
    if (value > top || value !== value) {
      top = value;
      best = i;
    }
  }
  return [best, top];
}

function singleForm(bundle) {
  return bundle.manifest.format_version === 4 ? SINGLE_FORMS.decoded : SINGLE_FORMS.probabilities;
}

/**
 * One answer: `text` verbatim from the training data, `confidence` its softmax probability,
 * `known` whether `confidence` reaches the threshold (else show UNKNOWN_TEXT).
 */
export class Answer {
  constructor(text, confidence, known) {
    this.text = text;
    this.confidence = confidence;
    this.known = known;
    Object.freeze(this);
  }

  toString() {
    return this.known ? this.text : UNKNOWN_TEXT;
  }
}

export class QAModel {
  /**
   * Use `load` from 'rnnqa' (Node: a directory; browser: a URL) rather than this constructor.
   * @param {import('./bundle.js').Bundle} bundle a bundle whose every check passed
   * @param {object} session an onnxruntime InferenceSession of bundle.onnx
   * @param {Function} Tensor the onnxruntime Tensor class of the same package
   * @param {{threshold?: number}} [options]
   * @param {object} [single] an InferenceSession of bundle.single (model_single.onnx), which `answer` runs
   */
  constructor(bundle, session, Tensor, options = {}, single = null) {
    const { threshold } = options;
    if (threshold !== undefined && !(typeof threshold === 'number' && threshold >= 0 && threshold <= 1)) {
      throw new RangeError(`threshold must be a number in [0, 1], got ${threshold}`);
    }
    this.Tensor = Tensor;
    this.override = threshold;
    /** Everything one call needs, read once per call and swapped whole by `reload` (as Python's _Serving). */
    this.state = Object.freeze({ bundle, session, single, form: singleForm(bundle),
      threshold: threshold ?? bundle.manifest.threshold });
    /** {source, open}: where `load` found the bundle and how it opens one, for `reload`. */
    this.origin = null;
  }

  get bundle() { return this.state.bundle; }

  get session() { return this.state.session; }

  get single() { return this.state.single; }

  /** Confidence needed for `known`: the manifest's unless overridden at load. */
  get threshold() { return this.state.threshold; }

  get maxLen() { return this.state.bundle.manifest.max_len; }

  /**
   * Serve the bundle at `source` (default: the one loaded, read again) once it has passed every check `load`
   * makes — with the key the model was loaded with, its signature — and answered the probe question. Calls in
   * flight finish on the old bundle, with its threshold; on any error the old bundle keeps serving.
   * @throws {BundleError} the new bundle was refused; nothing changed
   */
  async reload(source = this.origin?.source) {
    if (this.origin === null) throw new TypeError('reload needs a model made by load');
    const fresh = await this.origin.open(source);
    this.state = fresh.state;
    this.origin = fresh.origin;
  }

  /**
   * Token ids of `question` as the graph sees them (unknown → unk_id, cut to max_len).
   * @throws {TypeError} not a string
   * @throws {QuestionError} "question is empty" or "question has no words"
   */
  encode(question, state = this.state) {
    if (typeof question !== 'string') throw new TypeError(`question must be a string, got ${typeof question}`);
    const { vocab, manifest } = state.bundle;
    let ids = vocab.ids(question);
    if (ids.length > manifest.max_len) ids = ids.slice(0, manifest.max_len);
    if (ids.length === 0) {
      throw new QuestionError(vocab.tokenizer.isBlank(question) ? 'question is empty' : 'question has no words');
    }
    return ids;
  }

  /**
   * The best answer to one question: on the single-question graph where the bundle has one (with the
   * substitution gate from gate.json, as Python's runtime does), else model.onnx with one row.
   */
  async answer(question) {
    const { state } = this;
    if (state.single === null) {
      const [answer] = await this.answerBatch([question]);
      return answer;
    }
    const ids = this.encode(question, state);
    const { single, form } = state;
    let out;
    if (single.runIds !== undefined) {
      out = single.runIds(ids);
    } else {
      const feeds = { [INPUT_IDS]: new this.Tensor('int64', int64s(ids), [ids.length, 1]) };
      out = single.runSync === undefined ? await single.run(feeds, form.fetches) : single.runSync(feeds, form.fetches);
    }
    const [index, confidence] = form.best(out);
    const { gate } = state.bundle;
    return make(state, index, confidence * (gate === null ? 1 : gate.scale(ids, index)));
  }

  /** Best answers to many questions with one padded onnxruntime call. */
  async answerBatch(questions) {
    if (!Array.isArray(questions)) throw new TypeError('answerBatch takes an array of questions');
    if (questions.length === 0) return [];
    const { state } = this;
    const out = await this.run(state, questions, DECODED);
    const index = out.answer_index.data;
    const confidence = out.confidence.data;
    return questions.map((_, row) => make(state, Number(index[row]), confidence[row]));
  }

  /** The `k` most likely answers, best first (ties keep answer order, as in Python). */
  async topK(question, k) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
    const { state } = this;
    const [probs] = await this.softmax(state, [question]);
    const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a] || a - b);
    return order.slice(0, k).map((j) => make(state, j, probs[j]));
  }

  /** Softmax over answers computed by the graph: one Float32Array per question. */
  async probabilities(questions) {
    if (!Array.isArray(questions)) throw new TypeError('probabilities takes an array of questions');
    if (questions.length === 0) return [];
    return this.softmax(this.state, questions);
  }

  async softmax(state, questions) {
    const out = await this.run(state, questions, ['probabilities']);
    const answers = state.bundle.vocab.answers.length;
    const data = out.probabilities.data;
    return questions.map((_, row) => data.subarray(row * answers, (row + 1) * answers));
  }

  /** The graph's `outputs` for `questions`, right-padded with pad_id into one call of `state`'s session. */
  async run(state, questions, outputs) {
    const rows = questions.map((q) => this.encode(q, state));
    const width = rows.reduce((longest, row) => Math.max(longest, row.length), 0);
    const ids = new BigInt64Array(rows.length * width).fill(BigInt(state.bundle.vocab.padId));
    rows.forEach((row, i) => row.forEach((id, t) => { ids[i * width + t] = BigInt(id); }));
    const lengths = int64s(rows.map((row) => row.length));
    const feeds = {
      [INPUT_IDS]: new this.Tensor('int64', ids, [rows.length, width]),
      [LENGTHS]: new this.Tensor('int64', lengths, [rows.length]),
    };
    return state.session.run(feeds, outputs);
  }
}

/** `ids` as a BigInt64Array: a loop, because BigInt64Array.from(ids, BigInt) costs ~20 times as much (0.6 µs). */
function int64s(ids) {
  const out = new BigInt64Array(ids.length);
  for (let i = 0; i < ids.length; i += 1) out[i] = BigInt(ids[i]);
  return out;
}

function make(state, index, confidence) {
  return new Answer(state.bundle.vocab.answers[index], confidence, confidence >= state.threshold);
}

/**
 * A session for a checked bundle with `ort` (onnxruntime-node or -web), probed, as a QAModel.
 * @throws {BundleError} onnxruntime cannot load the graph, or it fails the probe question
 */
export async function openModel(ort, bundle, sessionOptions, options, origin = null, openSync = null) {
  const session = await createSession(ort, ONNX_FILE, bundle.onnx, sessionOptions);
  const probe = await checkSession(bundle, session, ort.Tensor);
  const single = bundle.single === null ? null : await openSingle(ort, bundle, sessionOptions, probe, openSync);
  const model = new QAModel(bundle, session, ort.Tensor, options, single);
  model.origin = origin;
  return model;
}

/**
 * A session on model_single.onnx that answers the probe as model.onnx did (before any substitution gate).
 * `openSync(bytes, sessionOptions, layout)`, where the package offers one (node.js), opens a session that also has
 * `runIds(ids)` (the outputs `layout` lists, for a row of token ids) or `runSync(feeds, fetches)`; `answer` then
 * runs it without waiting for the event loop.
 */
async function openSingle(ort, bundle, sessionOptions, probe, openSync) {
  const form = singleForm(bundle);
  const outputs = form.outputs(probe.logits.data.length);
  const layout = { input: INPUT_IDS, maxLen: bundle.manifest.max_len, outputs };
  const single = await createSession(ort, SINGLE_FILE, bundle.single, sessionOptions,
    openSync === null ? undefined : (bytes, options) => openSync(bytes, options, layout));
  let out;
  try {
    out = await single.run({ [INPUT_IDS]: new ort.Tensor('int64', BigInt64Array.from([BigInt(bundle.vocab.unkId)]), [1, 1]) },
      form.fetches);
  } catch (error) {
    throw new BundleError(SINGLE_FILE, `the graph fails on a probe question: ${error.message}`);
  }
  const logits = probe.logits.data;
  const [best] = argmax(logits);
  const want = 1 / logits.reduce((sum, x) => sum + Math.exp(x - logits[best]), 0);
  const [index, confidence] = form.best(out);
  // The C API's session (ortc.js) gives the dims it bound: there onnxruntime itself refuses other shapes
  // ("fails on a probe question" above).
  const shapes = form.fetches.map((name) => out[name].dims.join()).join(' ');
  const wantShapes = outputs.map(({ dims }) => dims.join()).join(' ');
  if (shapes !== wantShapes || index !== best || !(Math.abs(confidence - want) <= 1e-4)) {
    throw new BundleError(SINGLE_FILE, `answers a probe with ${index} / ${confidence}, but ${ONNX_FILE} with ` +
      `${best} / ${want.toFixed(6)}`);
  }
  return single;
}

/**
 * An onnxruntime session on the graph file `name`, opened by `open` (default: the package's public session); a
 * graph it cannot load is a BundleError naming the file.
 */
async function createSession(ort, name, bytes, sessionOptions, open = (b, o) => ort.InferenceSession.create(b, o)) {
  try {
    return await open(bytes, sessionOptions);
  } catch (error) {
    throw new BundleError(name, `onnxruntime cannot load it: ${error.message}`);
  }
}
