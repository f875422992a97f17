// The page in a real headless Chromium (the system's, never a downloaded one): type, read, compare with Python.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { BUNDLE, SKIP, cases } from './fixture.js';

const CHROMIUM = process.env.RNNQA_CHROMIUM;
const SERVE = fileURLToPath(new URL('../../web/serve.js', import.meta.url));
const skip = SKIP || (!CHROMIUM && 'RNNQA_CHROMIUM is not set: no Chromium to drive');
// The flags a closed network needs: no background requests, no sandbox as root, no GPU.
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

describe('the page answers in Chromium as Python does', { skip }, () => {
  let server;
  let browser;
  let page;
  before(async () => {
    const { chromium } = await import('playwright-core');
    server = spawn(process.execPath, [SERVE, '--bundle', BUNDLE, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise((resolve, reject) => {
      server.stdout.once('data', (line) => resolve(String(line).match(/http:\/\/\S+/)[0]));
      server.once('exit', (code) => reject(new Error(`serve.js exited with ${code}`)));
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 });
    page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url);
    await page.waitForSelector('body[data-state]', { timeout: 60_000 });
    assert.equal(await page.getAttribute('body', 'data-state'), 'ready', `${await page.textContent('#error')} ${errors}`);
  });
  after(async () => {
    await browser?.close();
    server?.kill();
  });

  async function ask(question) {
    await page.fill('#question', question);
    await page.press('#question', 'Enter');
    await page.waitForFunction((q) => document.querySelector('#answer').dataset.question === q, question);
    return {
      shown: await page.textContent('#answer'),
      text: await page.getAttribute('#answer', 'data-text'),
      confidence: Number(await page.getAttribute('#answer', 'data-confidence')),
      error: await page.textContent('#error'),
    };
  }

  test('typed questions get Python\'s answers; unknown ones show "I don\'t know"', async () => {
    const { questions, python } = cases();
    const expected = questions.map((q, i) => ({ q, ...JSON.parse(python.json[i]) })).filter((e) => !e.error);
    const known = expected.filter((e) => e.known).slice(0, 12);
    const unknown = expected.filter((e) => !e.known).slice(0, 8);
    assert.ok(known.length >= 5 && unknown.length >= 5);
    for (const e of [...known, ...unknown]) {
      const got = await ask(e.q);
      assert.equal(got.text, e.answer, e.q);
      assert.equal(got.shown, e.known ? e.answer : "I don't know", e.q);
      assert.ok(Math.abs(got.confidence - e.confidence) <= 1e-5 + 5e-7, `${e.q}: ${got.confidence} vs ${e.confidence}`);
    }
    const directory = process.env.RNNQA_SCREENSHOT_DIR;
    if (directory) {
      mkdirSync(directory, { recursive: true });
      await ask(unknown[0].q);
      await page.screenshot({ path: join(directory, 'page-unknown.png') });
      await ask(known[0].q);
      await page.screenshot({ path: join(directory, 'page-answer.png') });
    }
  });

  test('a question without words shows the error', async () => {
    const got = await ask('?!');
    assert.equal(got.error, 'question has no words');
    assert.equal(got.shown, '');
  });
});
