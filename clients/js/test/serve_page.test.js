// qa-serve's page at / in the system Chromium: type, read what the server answered, compare with Python.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

const URL_ = process.env.RNNQA_SERVE_URL;
const CHROMIUM = process.env.RNNQA_CHROMIUM;
const skip = !(URL_ && CHROMIUM) && 'RNNQA_SERVE_URL and RNNQA_CHROMIUM are set by tests/serve/test_page.py';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

describe("qa-serve's page answers as Python does", { skip }, () => {
  let browser;
  let page;
  before(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 });
    page = await browser.newPage();
    await page.goto(URL_);
  });
  after(async () => browser?.close());

  async function ask(question) {
    await page.fill('#question', question);
    await page.press('#question', 'Enter');
    await page.waitForFunction((q) => document.querySelector('#answer').dataset.question === q, question);
    return { shown: await page.textContent('#answer'), text: await page.getAttribute('#answer', 'data-text'),
      confidence: Number(await page.getAttribute('#answer', 'data-confidence')), error: await page.textContent('#error') };
  }

  test('known and unknown questions, and a question without words', async () => {
    const expected = JSON.parse(readFileSync(process.env.RNNQA_CASES, 'utf8'));
    assert.ok(expected.some((e) => e.known) && expected.some((e) => !e.known));
    for (const e of expected) {
      const got = await ask(e.question);
      assert.equal(got.text, e.answer, e.question);
      assert.equal(got.shown, e.known ? e.answer : "I don't know", e.question);
      assert.ok(Math.abs(got.confidence - e.confidence) <= 1e-5, e.question);
    }
    const unknown = expected.find((e) => !e.known);
    await ask(unknown.question);
    await page.screenshot({ path: join(process.env.RNNQA_SCREENSHOT_DIR, 'serve-page-unknown.png') });
    const none = await ask('?!');
    assert.equal(none.error, 'question 0: question has no words');
  });
});
