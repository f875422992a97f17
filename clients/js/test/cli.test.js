import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

import { BUNDLE, SKIP, cases } from './fixture.js';

const QA_ASK = fileURLToPath(new URL('../bin/qa-ask.js', import.meta.url));
const ask = (args, input) => spawnSync(process.execPath, [QA_ASK, ...args], { input, encoding: 'utf8' });
const lines = (text) => text.split('\n').slice(0, -1);

describe('qa-ask.js prints what Python qa-ask prints', { skip: SKIP }, () => {
  const { questions, python, badBundle } = SKIP ? {} : cases();
  const stdin = SKIP ? '' : `${questions.join('\n')}\n`;

  test('--json, one question per stdin line: the same lines, byte for byte, and the same exit code', () => {
    const result = ask(['--bundle', BUNDLE, '--json'], stdin);
    assert.deepEqual(lines(result.stdout), python.json);
    assert.equal(result.status, python.rc);
  });

  test('plain output and --top-k', () => {
    assert.deepEqual(lines(ask(['--bundle', BUNDLE], stdin).stdout), python.plain);
    const few = questions.slice(0, 25);
    assert.deepEqual(lines(ask(['--bundle', BUNDLE, '--json', '--top-k', '3', ...few]).stdout), python.topk);
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
