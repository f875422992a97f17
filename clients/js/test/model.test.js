import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { argmax } from '../src/model.js';
import { QuestionError, UNKNOWN_TEXT, load } from '../src/node.js';
import { BUNDLE, SKIP, cases, conformance, copyBundle, editJson, refused, rehash } from './fixture.js';

test("argmax picks the first of equals and the first NaN, as numpy's does", () => {
  const f = (values) => argmax(Float32Array.from(values));
  assert.deepEqual(f([0.25]), [0, 0.25]);
  assert.deepEqual(f([0.125, 0.5, 0.25, 0.5]), [1, 0.5]);
  assert.deepEqual(f([0.5, 0.125]), [0, 0.5]);
  const [index, value] = f([0.25, NaN, 0.75, NaN]);
  assert.ok(index === 1 && Number.isNaN(value));
  assert.ok(Number.isNaN(f([NaN, 0.75])[1]) && f([NaN, 0.75])[0] === 0);
});

describe('QAModel in Node', { skip: SKIP }, () => {
  let model;
  let expected;
  before(async () => {
    model = await load(BUNDLE);
    const { questions, python } = cases();
    expected = questions.map((q, i) => ({ q, ...JSON.parse(python.json[i]) }));
  });

  test('answers every training and quality question as Python qa-ask --json does', async () => {
    const answerable = expected.filter((e) => !e.error);
    assert.ok(answerable.length > 500);
    const batch = await model.answerBatch(answerable.map((e) => e.q));
    for (const [i, e] of answerable.entries()) {
      const one = await model.answer(e.q);
      for (const answer of [one, batch[i]]) {
        assert.equal(answer.text, e.answer, e.q);
        assert.equal(answer.known, e.known, e.q);
        assert.ok(Math.abs(answer.confidence - e.confidence) <= 1e-5 + 5e-7, `${e.q}: ${answer.confidence} vs ${e.confidence}`);
      }
    }
  });

  test('every conformance vector: answer, known and confidence within its tolerance, or its error', async () => {
    const { vectors, tolerance } = conformance();
    for (const vector of vectors) {
      if (vector.error) {
        await assert.rejects(model.answer(vector.text), (e) => e instanceof QuestionError && e.message === vector.error);
        continue;
      }
      assert.deepEqual(model.encode(vector.text), vector.ids, vector.label);
      const answer = await model.answer(vector.text);
      assert.equal(answer.text, vector.answer, vector.label);
      assert.equal(answer.known, vector.known, vector.label);
      assert.ok(Math.abs(answer.confidence - vector.confidence) <= tolerance, vector.label);
    }
  });

  test('topK, the threshold and bad questions', async () => {
    const question = expected.find((e) => e.known).q;
    const best = await model.answer(question);
    const top = await model.topK(question, 3);
    assert.equal(top.length, 3);
    assert.equal(top[0].text, best.text);
    assert.ok(top[0].confidence >= top[1].confidence && top[1].confidence >= top[2].confidence);
    assert.equal(model.threshold, conformance().threshold);
    const strict = await load(BUNDLE, { threshold: 1 });
    const answer = await strict.answer(question);
    assert.equal(answer.known, false);
    assert.equal(String(answer), UNKNOWN_TEXT);
    await assert.rejects(model.answer(42), TypeError);
    await assert.rejects(model.answer(' \t'), { name: 'QuestionError', message: 'question is empty' });
    await assert.rejects(model.answer('?!'), { name: 'QuestionError', message: 'question has no words' });
    await assert.rejects(model.topK(question, 0), RangeError);
    await assert.rejects(load(BUNDLE, { threshold: 2 }), RangeError);
    assert.deepEqual(await model.answerBatch([]), []);
    assert.deepEqual(await model.probabilities([]), []);
    const many = await model.answerBatch(Array(200_000).fill(question)); // no spread of 200k arguments
    assert.equal(many.length, 200_000);
    assert.equal(many[199_999].text, best.text);
  });

  test('a signed bundle (model.sig beside its files, written by Python) loads and answers alike', async () => {
    const signed = await load(cases().signedBundle);
    const question = expected.find((e) => e.known).q;
    assert.deepEqual(await signed.answer(question), await model.answer(question));
  });
});

describe('a tampered or incomplete bundle is refused', { skip: SKIP }, () => {
  let dir;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'rnnqa-js-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const copy = () => copyBundle(dir);

  for (const name of ['model.onnx', 'vocab.json', 'conformance.json', 'model.torchscript.pt', 'tokenizer.json']) {
    test(`a changed byte in ${name}`, async () => {
      const bundle = copy();
      const bytes = readFileSync(join(bundle, name));
      bytes[bytes.length >> 1] ^= 1;
      writeFileSync(join(bundle, name), bytes);
      await refused(bundle, name, /^sha256 mismatch — the bundle was modified or is incomplete$/);
    });
  }

  for (const name of ['model.onnx', 'manifest.json', 'conformance.json', 'tokenizer_config.json']) {
    test(`${name} missing`, async () => {
      const bundle = copy();
      unlinkSync(join(bundle, name));
      await refused(bundle, name, /missing — the bundle is incomplete/);
    });
  }

  test('an extra file, a symlink, not a directory', async () => {
    const extra = copy();
    writeFileSync(join(extra, 'notes.txt'), 'hi');
    await refused(extra, 'notes.txt', /unexpected file/);
    const unlisted = copy(); // an optional file present but not in the manifest
    editJson(join(unlisted, 'manifest.json'), (m) => { delete m.files['tokenizer.json']; });
    await refused(unlisted, 'tokenizer.json', /unexpected file/);
    const linked = copy();
    renameSync(join(linked, 'vocab.json'), join(dir, 'elsewhere.json'));
    symlinkSync(join(dir, 'elsewhere.json'), join(linked, 'vocab.json'));
    await refused(linked, 'vocab.json', /symbolic link/);
    await refused(join(dir, 'absent'), join(dir, 'absent'), /not a bundle directory/);
  });

  test('a variant this runtime does not know, or of the wrong type, is refused as in Python', async () => {
    for (const variant of [null, ['fp32'], { name: 'fp32' }, 'int4', 42]) {
      const bundle = copy();
      editJson(join(bundle, 'manifest.json'), (m) => { m.variant = variant; });
      await refused(bundle, 'manifest.json', /^unknown variant /);
    }
    const int8 = copy(); // an fp32 bundle claiming int8 lists a TorchScript file an int8 bundle has not
    editJson(join(int8, 'manifest.json'), (m) => { m.variant = 'int8'; });
    await refused(int8, 'manifest.json', /'files' must list the sha256 of exactly/);
  });

  test('answer runs model_single.onnx with the gate from gate.json, which closes on some questions', async () => {
    const model = await load(BUNDLE);
    assert.notEqual(model.single, null);
    // Node runs it without waiting a turn: through onnxruntime's C API, or its native binding (ortc.test.js)
    assert.ok(typeof model.single.runIds === 'function' || typeof model.single.runSync === 'function');
    assert.notEqual(model.bundle.gate, null);
    const { questions, python } = cases();
    const answerable = questions.map((q, i) => ({ q, ...JSON.parse(python.json[i]) })).filter((e) => !e.error);
    const closed = answerable.filter((e) => {
      const ids = model.encode(e.q);
      return model.bundle.gate.scale(ids, model.bundle.vocab.answers.indexOf(e.answer)) < 1;
    });
    assert.ok(closed.length > 0); // the test above compared these with Python's answers too
    for (const [change, reason] of [
      [(g) => { g.factor = 0; }, /not a valid gate table: 'factor'/],
      [(g) => { g.questions.pop(); }, /not a valid gate table: 'questions' must hold one list per answer/],
      [(g) => { g.content = ['7']; }, /not a valid gate table: 'content'/],
    ]) {
      const bundle = copy();
      editJson(join(bundle, 'gate.json'), change);
      rehash(bundle, 'gate.json');
      await refused(bundle, 'gate.json', reason);
    }
    const gateless = copy();
    unlinkSync(join(gateless, 'gate.json'));
    editJson(join(gateless, 'manifest.json'), (m) => { delete m.files['gate.json']; });
    await refused(gateless, 'gate.json', /missing: the model has a substitution gate/);
    const other = copy(); // another graph's bytes where the single graph belongs
    writeFileSync(join(other, 'model_single.onnx'), readFileSync(join(other, 'model.onnx')));
    rehash(other, 'model_single.onnx');
    await refused(other, 'model_single.onnx', /graph inputs and outputs/);
  });

  test("format 4's single graph, which decodes itself, answers as format 5's softmax does", async () => {
    const [now, old] = [await load(BUNDLE), await load(cases().format4Bundle)];
    assert.equal(old.bundle.manifest.format_version, 4);
    assert.equal(now.bundle.manifest.format_version, 5);
    const { questions, python } = cases();
    let answered = 0;
    for (const [i, question] of questions.entries()) {
      if (JSON.parse(python.json[i]).error) continue;
      const [got, want] = [await old.answer(question), await now.answer(question)];
      assert.equal(got.text, want.text, question);
      assert.ok(Math.abs(got.confidence - want.confidence) <= 1e-6, question);
      answered += 1;
    }
    assert.ok(answered > 300);
    const swapped = copy(); // each format's manifest takes only its own graph
    writeFileSync(join(swapped, 'model_single.onnx'), readFileSync(join(cases().format4Bundle, 'model_single.onnx')));
    rehash(swapped, 'model_single.onnx');
    await refused(swapped, 'model_single.onnx', /graph inputs and outputs/);
  });

  test('formats 4 and 5 may list the single-question graph, format 3 may not, and each loads without it', async () => {
    const three = copy(); // Python's bundle is format 5, with model_single.onnx and gate.json
    editJson(join(three, 'manifest.json'), (m) => { m.format_version = 3; });
    await refused(three, 'manifest.json', /'files' must list the sha256 of exactly/);
    const want = await (await load(BUNDLE)).answer('What is the capital of France?');
    for (const version of [3, 4, 5]) {
      const plain = copy();
      for (const name of ['model_single.onnx', 'gate.json']) unlinkSync(join(plain, name));
      editJson(join(plain, 'manifest.json'), (m) => {
        m.format_version = version;
        delete m.files['model_single.onnx'];
        delete m.files['gate.json'];
      });
      const got = await (await load(plain)).answer('What is the capital of France?');
      assert.deepEqual([got.text, got.confidence], [want.text, want.confidence]);
    }
  });

  test('a graph with external data, or that is not ONNX, is refused before onnxruntime sees it', async () => {
    await refused(cases().externalBundle, 'model.onnx', /1 tensor\(s\)|tensor\(s\) reference external data/);
    const garbage = copy();
    writeFileSync(join(garbage, 'model.onnx'), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x20]));
    rehash(garbage, 'model.onnx');
    await refused(garbage, 'model.onnx', /not an ONNX model/);
  });

  test('format 2, a version-1 tokenizer, a vocabulary that disagrees', async () => {
    const old = copy(); // a real format-2 bundle: four files
    unlinkSync(join(old, 'conformance.json'));
    editJson(join(old, 'manifest.json'), (m) => { m.format_version = 2; delete m.files['conformance.json']; });
    await refused(old, 'manifest.json', /unsupported format version 2 .*export the run again/);
    const linked = join(dir, 'link');
    symlinkSync(BUNDLE, linked);
    await refused(`${linked}/`, `${linked}/`, /not a bundle directory/);
    const legacy = copy();
    editJson(join(legacy, 'vocab.json'), (v) => { v.tokenizer = { kind: 'stem' }; });
    rehash(legacy, 'vocab.json');
    await refused(legacy, 'vocab.json', /not declared as data.*train the run again/);
    const wrong = copy();
    editJson(join(wrong, 'vocab.json'), (v) => { v.answers.push('Atlantis'); });
    rehash(wrong, 'vocab.json');
    await refused(wrong, 'vocab.json', /answers, but the manifest/);
    const rehashed = copy();
    editJson(join(rehashed, 'manifest.json'), (m) => { m.files['model.onnx'] = '0'.repeat(64); });
    await refused(rehashed, 'model.onnx', /sha256 mismatch/);
  });
});
