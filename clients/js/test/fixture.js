// What the tests share: the bundle and Python's answers that tests/clients/test_js.py prepared.
import { readFileSync } from 'node:fs';

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
