// Signed bundles in Node, against Python: tests/clients/test_js_signing.py signs, tampers and records what
// Python's loader says of each case; here each must get the same file and reason, with node:crypto and with
// Web Crypto. The repository's signature vector pins the format.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

import { BundleError, ConfigError, load, nodePublicKey, webPublicKey } from '../src/node.js';
import { derToRaw, pae, verifySignature } from '../src/signature.js';
import { sameRefusal } from './fixture.js';

const CASES = process.env.RNNQA_SIGNING_CASES;
const skip = CASES ? false : 'RNNQA_SIGNING_CASES is not set: run through `make test` (tests/clients/test_js_signing.py)';
const data = CASES ? JSON.parse(readFileSync(CASES, 'utf8')) : { cases: [], vector: {} };
const QA_ASK = fileURLToPath(new URL('../bin/qa-ask.js', import.meta.url));
const QUESTION = 'What is the capital of Peru?';
const KEYS = {
  'node:crypto': (path) => nodePublicKey(path),
  'Web Crypto': (path) => webPublicKey(readFileSync(path, 'utf8'), path),
};

function agrees(error, expected) {
  assert.ok(error instanceof BundleError, String(error));
  sameRefusal(error, expected);
}

describe('a bundle signed by Python, verified in Node', { skip }, () => {
  for (const [crypto, makeKey] of Object.entries(KEYS)) {
    test(`each case gets Python's outcome (${crypto})`, async () => {
      assert.ok(data.cases.length >= 15);
      for (const expected of data.cases) {
        const key = await makeKey(expected.key);
        if (expected.answer !== undefined) {
          const model = await load(expected.dir, { publicKey: key });
          assert.equal((await model.answer(QUESTION)).text, expected.answer, expected.what);
          assert.equal(model.bundle.signedBy, expected.signedBy, expected.what);
        } else {
          await assert.rejects(load(expected.dir, { publicKey: key }), (error) => {
            agrees(error, expected);
            return true;
          }, expected.what);
        }
      }
    });
  }

  test('both kinds of key read a PEM file alike, and refuse what Python refuses', async () => {
    const [good] = data.cases;
    const [a, b] = [await nodePublicKey(good.key), await webPublicKey(readFileSync(good.key, 'utf8'), good.key)];
    assert.equal(a.fingerprint, good.signedBy);
    assert.equal(b.fingerprint, good.signedBy);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' });
    const path = join(CASES, '..', 'bad.pem');
    for (const make of Object.values(KEYS)) {
      for (const [text, message] of [['nope', /: not a PEM public key$/], [rsa, /: not an ECDSA P-256, P-384 or P-521 public key$/],
        [readFileSync(good.key, 'utf8').replace('PUBLIC KEY', 'PRIVATE KEY'), /: not a PEM public key$/],
        ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', /: not (a PEM public key|an ECDSA P-256, P-384 or P-521 public key)/]]) {
        writeFileSync(path, text);
        await assert.rejects(make(path), (error) => error instanceof ConfigError && error.message.startsWith(`${path}: `) &&
          message.test(error.message), text);
      }
    }
    await assert.rejects(nodePublicKey('/nonexistent/key.pem'),
      (error) => error instanceof ConfigError && error.message === '/nonexistent/key.pem: cannot read the public key: No such file or directory');
  });

  test('the repository vector verifies with both, and one byte changed is refused', async () => {
    const root = join(data.vector.dir, 'bundle');
    const files = () => ({ 'vocab.json': readFileSync(join(root, 'vocab.json')), 'manifest.json': readFileSync(join(root, 'manifest.json')) });
    const signature = new Uint8Array(readFileSync(join(root, 'model.sig')));
    for (const make of Object.values(KEYS)) {
      const key = await make(join(data.vector.dir, 'key.pub.pem'));
      assert.equal(key.fingerprint, data.vector.fingerprint);
      await verifySignature(signature, files(), key);
      const changed = files();
      changed['vocab.json'] = Uint8Array.from(changed['vocab.json']);
      changed['vocab.json'][5] ^= 1;
      await assert.rejects(verifySignature(signature, changed, key), (error) => error instanceof BundleError &&
        error.file === 'vocab.json' && error.reason === 'differs from the signed file — the bundle was modified after signing');
    }
  });

  test('node:crypto and Web Crypto accept the one DER encoding of a signature, and no other', async () => {
    const sig = JSON.parse(readFileSync(join(data.vector.dir, 'bundle', 'model.sig'), 'utf8'));
    const der = Uint8Array.from(atob(sig.dsseEnvelope.signatures[0].sig), (c) => c.charCodeAt(0));
    const payload = Uint8Array.from(atob(sig.dsseEnvelope.payload), (c) => c.charCodeAt(0));
    const rLength = der[3];
    const r = der.subarray(4, 4 + rLength);
    const s = der.subarray(4 + rLength + 2);
    const encode = (parts, long = false) => { // a SEQUENCE of the INTEGER encodings `parts`
      const body = parts.flatMap(([value, pad]) => [0x02, value.length + pad, ...Array(pad).fill(0), ...value]);
      return Uint8Array.from(long ? [0x30, 0x81, body.length, ...body] : [0x30, body.length, ...body]);
    };
    const variants = {
      'as written': [der, true],
      'a long-form short length': [encode([[r, 0], [s, 0]], true), false],
      'an extra leading zero': [encode([[r, 1], [s, 0]]), false],
      'trailing bytes': [Uint8Array.from([...der.subarray(0, 1), der[1] + 1, ...der.subarray(2), 0]), false],
    };
    for (const make of Object.values(KEYS)) {
      const key = await make(join(data.vector.dir, 'key.pub.pem'));
      for (const [what, [bytes, valid]] of Object.entries(variants)) {
        assert.equal(await key.verify(bytes, pae(payload)), valid, `${key.curve} ${what}`);
      }
    }
  });

  test('a DER signature becomes r ‖ s for Web Crypto; what is not DER is null', () => {
    const der = Uint8Array.from([0x30, 0x07, 0x02, 0x02, 0x00, 0x90, 0x02, 0x01, 0x05]);
    assert.deepEqual([...derToRaw(der, 2)], [0x00, 0x90, 0x00, 0x05]);
    assert.equal(derToRaw(Uint8Array.from([0x30, 0x07, 0x02, 0x02, 0x00, 0x10, 0x02, 0x01, 0x05]), 2), null); // 0x00 not needed
    assert.equal(derToRaw(Uint8Array.from([0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]), 2), null); // long form, short length
    assert.equal(derToRaw(Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x80]), 2), null); // negative, and no s
    assert.equal(derToRaw(Uint8Array.from([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00]), 2), null); // trailing byte
    assert.equal(derToRaw(Uint8Array.from([0x30, 0x07, 0x02, 0x03, 0x01, 0x02, 0x03, 0x02, 0x00]), 2), null); // r too long
  });

  test('a refused reload keeps the old bundle answering; the key is the one loaded with', async () => {
    const [good, otherKey, unsigned, swapped] = data.cases;
    const model = await load(good.dir, { publicKey: good.key });
    const before = model.bundle;
    for (const bad of [unsigned, swapped, data.cases.at(-1)]) { // the last: signed, with a key not this one
      await assert.rejects(model.reload(bad.dir), BundleError);
      assert.equal(model.bundle, before);
      assert.equal((await model.answer(QUESTION)).text, good.answer);
    }
    await model.reload();
    assert.equal(model.bundle.signedBy, good.signedBy);
    assert.notEqual(model.bundle, before);
    await assert.rejects(load(good.dir, { publicKey: otherKey.key }), BundleError);
  });

  test("reload takes the new manifest's threshold unless one was given; a call in flight keeps its own", async () => {
    const [good] = data.cases;
    const lowered = data.cases.find((c) => c.what === "the manifest's threshold changed"); // to 0.0; loads without a key
    const model = await load(good.dir);
    const fixed = await load(good.dir, { threshold: 0.999 });
    const question = 'zq xv wk';
    const first = await model.answer(question);
    assert.ok(!first.known && model.threshold > 0, `${first.confidence} / ${model.threshold}`);
    const session = model.single;
    const run = session.run.bind(session);
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    session.run = async (...args) => { await held; return run(...args); }; // the call waits until the reload landed
    const inFlight = model.answer(question);
    await model.reload(lowered.dir);
    release();
    assert.equal((await inFlight).known, false); // the old threshold, with the old bundle's answer
    assert.equal(model.threshold, 0);
    assert.equal((await model.answer(question)).known, true);
    await fixed.reload(lowered.dir);
    assert.equal(fixed.threshold, 0.999);
  });

  test('serve.js refuses to start with an empty, unreadable or non-public key, rather than serve an unverified page', () => {
    const SERVE = fileURLToPath(new URL('../../web/serve.js', import.meta.url));
    const [good] = data.cases;
    for (const [args, env, message] of [[['--public-key', ''], {}, 'is empty'], [[], { RNNQA_PUBLIC_KEY: ' ' }, 'is empty'],
      [['--public-key', '/nonexistent.pem'], {}, 'cannot read the public key'],
      [['--public-key', join(good.dir, 'manifest.json')], {}, 'not a PEM public key']]) {
      const run = spawnSync(process.execPath, [SERVE, '--bundle', good.dir, '--port', '0', ...args],
        { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
      assert.equal(run.status, 1, `${args} ${run.stdout}`);
      assert.match(run.stderr, new RegExp(`^error: .*${message}`), run.stderr);
    }
  });

  test('qa-ask.js --public-key and RNNQA_PUBLIC_KEY: refused bundles are one line on stderr, exit 1', () => {
    const [good, , unsigned] = data.cases;
    const run = (args, env = {}) => spawnSync(process.execPath, [QA_ASK, ...args, QUESTION],
      { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
    const ok = run(['--bundle', good.dir, '--public-key', good.key]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, `${good.line}\n`);
    for (const refused of [run(['--bundle', unsigned.dir, '--public-key', good.key]),
      run(['--bundle', unsigned.dir], { RNNQA_PUBLIC_KEY: good.key })]) {
      assert.equal(refused.status, 1);
      assert.equal(refused.stdout, '');
      assert.equal(refused.stderr, `error: ${unsigned.file}: ${unsigned.reason}\n`);
    }
    const precedence = run(['--bundle', good.dir, '--public-key', good.key], { RNNQA_PUBLIC_KEY: '/nonexistent.pem' });
    assert.equal(precedence.status, 0, precedence.stderr); // the flag first, as in Python
    const empty = run(['--bundle', good.dir], { RNNQA_PUBLIC_KEY: ' ' });
    assert.equal(empty.status, 1);
    assert.equal(empty.stderr, 'error: RNNQA_PUBLIC_KEY is set but empty: name a PEM public key, or unset it\n');
  });
});
