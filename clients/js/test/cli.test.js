import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

import { pyFixed, pyFloat, pyJson } from '../src/pyformat.js';
import { BUNDLE, SKIP, cases } from './fixture.js';

const QA_ASK = fileURLToPath(new URL('../bin/qa-ask.js', import.meta.url));
const ask = (args, input) => spawnSync(process.execPath, [QA_ASK, ...args], { input, encoding: 'utf8' });
const lines = (text) => text.split('\n').slice(0, -1);

/**
 * The same JSON lines as Python's: every field equal, confidences within 1e-5 (two onnxruntime builds
 * may round a kernel differently; qa-ask rounds to 6 places), and where the numbers are equal, the
 * very same bytes (Python's float repr and separators).
 */
function sameRecords(got, want) {
  assert.equal(got.length, want.length);
  let identical = 0;
  got.forEach((line, i) => {
    const [g, w] = [JSON.parse(line), JSON.parse(want[i])];
    const close = (a, b) => Math.abs(a - b) <= 1e-5 + 1e-6;
    assert.deepEqual(Object.keys(g), Object.keys(w), want[i]);
    for (const key of Object.keys(w)) {
      if (key === 'confidence') assert.ok(close(g[key], w[key]), `${line} vs ${want[i]}`);
      else if (key === 'top_k') {
        assert.deepEqual(g.top_k.map((t) => t.answer), w.top_k.map((t) => t.answer), want[i]);
        g.top_k.forEach((t, j) => assert.ok(close(t.confidence, w.top_k[j].confidence), want[i]));
      } else assert.deepEqual(g[key], w[key], want[i]);
    }
    identical += line === want[i];
  });
  assert.ok(identical >= got.length * 0.9, `${identical} of ${got.length} lines byte-identical`);
}

describe('qa-ask.js prints what Python qa-ask prints', { skip: SKIP }, () => {
  const { questions, python, badBundle } = SKIP ? {} : cases();
  const stdin = SKIP ? '' : `${questions.join('\n')}\n`;

  test('--json, one question per stdin line: the same records, and the same exit code', () => {
    const result = ask(['--bundle', BUNDLE, '--json'], stdin);
    sameRecords(lines(result.stdout), python.json);
    assert.equal(result.status, python.rc);
  });

  test('plain output and --top-k', () => {
    assert.deepEqual(lines(ask(['--bundle', BUNDLE], stdin).stdout), python.plain);
    const few = questions.slice(0, 25);
    sameRecords(lines(ask(['--bundle', BUNDLE, '--json', '--top-k', '3', ...few]).stdout), python.topk);
  });

  test('a bad bundle is one line on stderr and exit code 1; a usage error exits 2', () => {
    const result = ask(['--bundle', badBundle.dir, 'hello']);
    assert.equal(result.stderr, badBundle.stderr);
    assert.equal(result.status, 1);
    assert.equal(result.stdout, '');
    assert.equal(ask(['--bundle', BUNDLE, '--top-k', '0', 'q']).status, 2);
    assert.equal(ask(['--bundle', BUNDLE, '--threshold', '2', 'q']).status, 2);
  });
});

test('numbers and JSON are written as Python writes them: repr, separators, round-half-even on exact ties', () => {
  // Each expected string is what Python 3.11 prints for the same value.
  const ties = [[0.0078125, 6, '0.007812'], [0.0234375, 6, '0.023438'], [0.0625, 3, '0.062'], [0.3125, 3, '0.312'],
    [0.5625, 3, '0.562'], [0.8125, 3, '0.812'], [0.1875, 3, '0.188'], [0.97, 3, '0.970'], [2 ** -20, 6, '0.000001']];
  for (const [x, digits, python] of ties) assert.equal(pyFixed(x, digits), python, String(x));
  const floats = [[1, '1.0'], [0, '0.0'], [5e-5, '5e-05'], [1e-6, '1e-06'], [0.0001, '0.0001'], [0.97, '0.97']];
  for (const [x, python] of floats) assert.equal(pyFloat(x), python);
  assert.equal(pyJson({ question: 'é"\n', a: [1, 5e-5], k: true, n: null }),
    '{"question": "é\\"\\n", "a": [1.0, 5e-05], "k": true, "n": null}');
});
