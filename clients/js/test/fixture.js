// What the tests share: the bundle and Python's answers that tests/clients/test_js.py prepared.
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { BundleError, load } from '../src/node.js';

export const BUNDLE = process.env.RNNQA_BUNDLE;
/** Skip reason when run outside `make test` (which trains a bundle and records Python's answers). */
export const SKIP = BUNDLE ? false : 'RNNQA_BUNDLE is not set: run the JavaScript tests through `make test`';

/**
 * @returns {{questions: string[], python: {json: string[], plain: string[], topk: string[], rc: number},
 *            badBundle: {dir: string, stderr: string}}}
 */
export function cases() {
  return JSON.parse(readFileSync(process.env.RNNQA_CASES, 'utf8'));
}

export function conformance() {
  return JSON.parse(readFileSync(`${BUNDLE}/conformance.json`, 'utf8'));
}

/** A fresh copy of the test bundle in a new directory under `dir`, to tamper with. */
export function copyBundle(dir) {
  const target = mkdtempSync(join(dir, 'b-'));
  cpSync(BUNDLE, target, { recursive: true });
  return target;
}

/** Rewrite the JSON file at `path` after `change(data)` edited it in place. */
export function editJson(path, change) {
  const data = JSON.parse(readFileSync(path, 'utf8'));
  change(data);
  writeFileSync(path, JSON.stringify(data));
}

/** Record `name`'s current sha256 in the bundle's manifest, as a tamperer re-hashing it would. */
export function rehash(bundle, name) {
  editJson(join(bundle, 'manifest.json'), (m) => {
    m.files[name] = createHash('sha256').update(readFileSync(join(bundle, name))).digest('hex');
  });
}

/** `load(bundle)` must fail with a BundleError naming `file`, its reason matching `reason` (a RegExp). */
export async function refused(bundle, file, reason) {
  await assert.rejects(load(bundle), (error) => {
    assert.ok(error instanceof BundleError, String(error));
    assert.equal(error.file, file, error.message);
    assert.match(error.reason, reason);
    return true;
  });
}

/**
 * A refusal `got` ({file, reason}) that Python's `expected` ({what, file, reason}) also gave: the same file
 * and reason, where no parser could read the signature file only "not a valid signature: " (each language's
 * parser words the rest its own way).
 */
export function sameRefusal(got, expected) {
  assert.equal(got.file, expected.file, `${expected.what}: ${got.reason}`);
  const prefix = 'not a valid signature: ';
  if (expected.reason.startsWith(prefix)) assert.ok(got.reason.startsWith(prefix), `${expected.what}: ${got.reason}`);
  else assert.equal(got.reason, expected.reason, expected.what);
}
