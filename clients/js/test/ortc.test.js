import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { load } from '../src/node.js';
import { OrtError, openDirect } from '../src/ortc.js';
import { BUNDLE, SKIP, cases } from './fixture.js';

const KOFFI = (() => {
  try {
    createRequire(import.meta.url).resolve('koffi');
    return false;
  } catch { // CI (RNNQA_REQUIRE_JS=1) installs it: there these tests run, and fail
    if (process.env.RNNQA_REQUIRE_JS === '1') return false;
    return 'koffi is not installed: answer runs on onnxruntime-node\'s binding (its tests are model.test.js)';
  }
})();
const LAYOUT = { input: 'input_ids', maxLen: 32, outputs: [{ name: 'probabilities', type: 'float32', dims: [1, 1] }] };

describe("answer through onnxruntime's C API", { skip: SKIP || KOFFI }, () => {
  test('is the default where koffi is installed, and answers as the binding does, in both formats', async () => {
    const { questions, python } = cases();
    const answerable = questions.filter((_, i) => !JSON.parse(python.json[i]).error);
    assert.ok(answerable.length > 300);
    for (const dir of [BUNDLE, cases().format4Bundle]) {
      const [direct, binding] = [await load(dir), await load(dir, { directRun: false })];
      assert.equal(direct.single.engine, 'onnxruntime C API (koffi)');
      assert.equal(binding.single.engine, 'onnxruntime-node binding');
      const lengths = new Set();
      for (const question of answerable) {
        const [got, want] = [await direct.answer(question), await binding.answer(question)];
        assert.deepEqual([got.text, got.known], [want.text, want.known], question);
        assert.ok(Math.abs(got.confidence - want.confidence) <= 1e-7, `${question}: ${got.confidence} vs ${want.confidence}`);
        lengths.add(direct.encode(question).length);
      }
      assert.ok(lengths.size > 5); // a binding per row length, each made at its first use
    }
  });

  test("gives onnxruntime's own error for a graph it refuses, and a RangeError for a row it cannot take", async () => {
    await load(BUNDLE); // the binding, and with it the library, is loaded
    assert.throws(() => openDirect(Buffer.from('not an onnx graph'), {}, LAYOUT),
      (error) => error instanceof OrtError && /protobuf|parse|load model/i.test(error.message));
    const bytes = readFileSync(join(BUNDLE, 'model_single.onnx'));
    const answers = (await load(BUNDLE)).bundle.vocab.answers.length;
    const session = openDirect(bytes, {}, { ...LAYOUT, outputs: [{ ...LAYOUT.outputs[0], dims: [1, answers] }] });
    assert.throws(() => session.runIds([]), RangeError);
    assert.throws(() => session.runIds(new Array(33).fill(1)), RangeError);
    const { probabilities } = session.runIds([1, 2, 3]);
    assert.ok(Math.abs(probabilities.data.reduce((a, b) => a + b, 0) - 1) < 1e-4); // the graph's softmax
    const wrong = openDirect(bytes, {}, { ...LAYOUT, outputs: [{ ...LAYOUT.outputs[0], dims: [1, answers + 1] }] });
    assert.throws(() => wrong.runIds([1]), OrtError); // outputs bound with a shape the graph does not give
    assert.throws(() => openDirect(bytes, { executionProviders: ['cuda'] }, LAYOUT), TypeError);
  });

  test("answers on the binding, the same answers, where koffi cannot be loaded", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnqa-nokoffi-'));
    const hide = join(dir, 'hide-koffi.cjs'); // koffi's resolution fails, as where it was never installed
    writeFileSync(hide, `const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'koffi') throw Object.assign(new Error("Cannot find module 'koffi'"), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };`);
    const questions = cases().questions.slice(0, 40);
    const script = `
      import { load } from ${JSON.stringify(new URL('../src/node.js', import.meta.url).href)};
      const model = await load(process.argv[1]);
      const answers = [];
      for (const q of JSON.parse(process.argv[2])) answers.push(await model.answer(q).then((a) => [a.text, a.confidence], (e) => e.message));
      console.log(JSON.stringify({ engine: model.single.engine, answers }));
    `;
    try {
      const run = spawnSync(process.execPath, ['--require', hide, '--input-type=module', '-e', script, BUNDLE, JSON.stringify(questions)],
        { encoding: 'utf8', timeout: 60_000 });
      assert.equal(run.status, 0, run.stderr);
      const { engine, answers } = JSON.parse(run.stdout.trim().split('\n').pop());
      assert.equal(engine, 'onnxruntime-node binding');
      const model = await load(BUNDLE);
      assert.equal(model.single.engine, 'onnxruntime C API (koffi)');
      for (const [i, q] of questions.entries()) {
        const want = await model.answer(q).then((a) => [a.text, a.confidence], (e) => e.message);
        assert.deepEqual(answers[i], want, q);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('releases the sessions of models no longer referenced, and the others keep answering', () => {
    const script = `
      import { load } from ${JSON.stringify(new URL('../src/node.js', import.meta.url).href)};
      import { releasedSessions } from ${JSON.stringify(new URL('../src/ortc.js', import.meta.url).href)};
      const kept = await load(process.argv[1]);
      const want = await kept.answer('What is the capital of France?');
      for (let i = 0; i < 20; i += 1) await (await load(process.argv[1])).answer('What is the capital of France?');
      for (let i = 0; i < 50 && releasedSessions() < 10; i += 1) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
      const got = await kept.answer('What is the capital of France?');
      console.log(JSON.stringify({ released: releasedSessions(), same: got.text === want.text && got.confidence === want.confidence }));
    `;
    const run = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script, BUNDLE], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const { released, same } = JSON.parse(run.stdout.trim().split('\n').pop());
    assert.ok(released >= 10, `released ${released} of 20`); // collected, released, and no crash
    assert.ok(same);
  });
});
