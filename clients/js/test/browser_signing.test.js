// Signed bundles in a real headless Chromium (the system's), against Python: the page with serve.js
// --public-key, and each tampering case of tests/clients/test_js_signing.py loaded by the page's module with
// Web Crypto, refused with Python's file and reason.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { sameRefusal } from './fixture.js';

const CASES = process.env.RNNQA_SIGNING_CASES;
const CHROMIUM = process.env.RNNQA_CHROMIUM;
const SERVE = fileURLToPath(new URL('../../web/serve.js', import.meta.url));
const skip = (!CASES && 'RNNQA_SIGNING_CASES is not set: run through `make test`') ||
  (!CHROMIUM && 'RNNQA_CHROMIUM is not set: no Chromium to drive');
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

describe('the page verifies signed bundles in Chromium as Python does', { skip }, () => {
  const { cases } = CASES ? JSON.parse(readFileSync(CASES, 'utf8')) : { cases: [] };
  const servers = [];
  let browser;

  async function serve(bundle, key) {
    const server = spawn(process.execPath, [SERVE, '--bundle', bundle, '--public-key', key, '--port', '0'],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    servers.push(server);
    return new Promise((resolve, reject) => {
      server.stdout.once('data', (line) => resolve(String(line).match(/http:\/\/\S+/)[0]));
      server.once('exit', (code) => reject(new Error(`serve.js exited with ${code}`)));
    });
  }

  async function open(url) {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector('body[data-state]', { timeout: 60_000 });
    return page;
  }

  before(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 });
  });
  after(async () => {
    await browser?.close();
    for (const server of servers) server.kill();
  });

  test('serve.js --public-key: a signed bundle answers, an unsigned one is refused before answering', async () => {
    const [good, , unsigned] = cases;
    const page = await open(await serve(good.dir, good.key));
    assert.equal(await page.getAttribute('body', 'data-state'), 'ready', await page.textContent('#error'));
    assert.match(await page.textContent('#status'), new RegExp(`signature verified \\(key ${good.signedBy.slice(0, 16)}…\\)`));
    const refused = await open(await serve(unsigned.dir, good.key));
    assert.equal(await refused.getAttribute('body', 'data-state'), 'failed');
    assert.ok((await refused.textContent('#error')).endsWith(`${unsigned.file}: ${unsigned.reason}`));
  });

  test("each case gets Python's outcome from the page's module (Web Crypto)", async () => {
    const [good] = cases;
    const page = await open(await serve(good.dir, good.key));
    await page.route('**/case/*/*', async (route) => {
      const [, index, name] = new URL(route.request().url()).pathname.match(/^\/case\/(\d+)\/([^/]+)$/);
      const file = join(cases[Number(index)].dir, name);
      if (existsSync(file)) await route.fulfill({ status: 200, body: readFileSync(file) });
      else await route.fulfill({ status: 404, body: 'not found' });
    });
    const keys = cases.map((c) => ({ path: c.key, pem: readFileSync(c.key, 'utf8') }));
    const outcomes = await page.evaluate(async ({ keys, question }) => {
      const { load, webPublicKey } = await import('/rnnqa/web.js');
      const results = [];
      for (const [i, { path, pem }] of keys.entries()) {
        try {
          const model = await load(`/case/${i}/`, { publicKey: await webPublicKey(pem, path) });
          results.push({ answer: (await model.answer(question)).text, signedBy: model.bundle.signedBy });
        } catch (error) {
          results.push({ name: error.name, file: error.file, reason: error.reason ?? error.message });
        }
      }
      return results;
    }, { keys, question: 'What is the capital of Peru?' });
    assert.equal(outcomes.length, cases.length);
    for (const [i, expected] of cases.entries()) {
      const got = outcomes[i];
      if (expected.answer !== undefined) {
        assert.deepEqual(got, { answer: expected.answer, signedBy: expected.signedBy }, expected.what);
        continue;
      }
      assert.equal(got.name, 'BundleError', `${expected.what}: ${JSON.stringify(got)}`);
      sameRefusal(got, expected);
    }
  });
});
