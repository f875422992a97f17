// What the tests share: the bundle and Python's answers that tests/clients/test_js.py prepared.
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
