import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { DeclaredTokenizer } from '../src/tokenizer.js';
import { BUNDLE, SKIP, conformance } from './fixture.js';

const TINY = {
  spec: 'rnnqa-tokenizer', version: 2, kind: 'tiny', map: { 41: 'a', df: 'ss', 301: '' }, letters: [[97, 122], [0x1d400, 0x1d433]],
  digits: [[48, 57]], joiners: [39], drop_s_after_joiner: true, space: [[32, 32]],
  stem: { min_length: 5, rules: [{ suffix: 'ing', replacement: '', min_rest: 4 }, { suffix: 's', replacement: '', min_rest: 4, except_suffix: 'ss' }] },
};

test('every conformance vector: tokens and ids', { skip: SKIP }, () => {
  const vocab = JSON.parse(readFileSync(`${BUNDLE}/vocab.json`, 'utf8'));
  const { vectors, max_len: maxLen } = conformance();
  const tokenizer = new DeclaredTokenizer(vocab.tokenizer);
  const index = new Map(vocab.tokens.map((t, i) => [t, i]));
  assert.ok(vectors.length > 200);
  for (const vector of vectors) {
    const tokens = tokenizer.tokenize(vector.text);
    assert.deepEqual(tokens, vector.tokens, vector.label);
    assert.deepEqual(tokens.slice(0, maxLen).map((t) => index.get(t) ?? vocab.unk_id), vector.ids, vector.label);
    if (vector.error) assert.equal(tokenizer.isBlank(vector.text), vector.error === 'question is empty', vector.label);
  }
});

test('the steps of the spec on a tiny declaration', () => {
  const tok = new DeclaredTokenizer(TINY);
  assert.deepEqual(tok.tokenize("Ab's cde'f ''s x'"), ['ab', 'cdef', 's', 'x']); // map, joiners, the possessive rule
  assert.deepEqual(tok.tokenize('dancing glass floors'), ['danc', 'glass', 'floor']);
  assert.deepEqual(tok.tokenize('ßing e\u0301e 12ab-CD'), ['ssing', 'ee', '12ab']); // 'C', 'D' are separators here
  assert.deepEqual(tok.tokenize('𝐀𝐁𝐂𝐃𝐄s'), ['𝐀𝐁𝐂𝐃𝐄']); // astral letters count as one code point each
  assert.deepEqual(tok.tokenize('\ud800x\udc00'), ['x']); // lone surrogates separate
  assert.ok(tok.isBlank('  ') && tok.isBlank('') && !tok.isBlank(' \t'));
});

test('step 6: aliases, longest match first, never aliased twice', () => {
  const tok = new DeclaredTokenizer({ ...TINY, version: 3, aliases: { big: 'larg', 'come up': 'invent', come: 'arriv', larg: 'x' } });
  assert.deepEqual(tok.tokenize('big come up with come'), ['larg', 'invent', 'with', 'arriv']);
  assert.deepEqual(tok.tokenize('come big up'), ['arriv', 'larg', 'up']);
  assert.deepEqual(tok.tokenize('constructor'), ['constructor']); // a Map, not an object's prototype
});

test('declarations that are not version 2 or 3, or malformed, are refused', () => {
  assert.throws(() => new DeclaredTokenizer({ ...TINY, aliases: { a: 'b' } }), /needs version 3/);
  assert.throws(() => new DeclaredTokenizer({ ...TINY, version: 3, aliases: { 'a  b': 'c' } }), /single spaces/);
  assert.throws(() => new DeclaredTokenizer({ ...TINY, version: 3, aliases: { a: 'b c' } }), /single spaces/);
  assert.throws(() => new DeclaredTokenizer({ ...TINY, version: 4 }), /not declared as data/);
  assert.throws(() => new DeclaredTokenizer({ kind: 'stem' }), /not declared as data/);
  assert.throws(() => new DeclaredTokenizer({ ...TINY, letters: [[5, 1]] }), /sorted, disjoint/);
  assert.throws(() => new DeclaredTokenizer({ ...TINY, map: { zz: 'a' } }), /not a code point/);
  assert.throws(() => new DeclaredTokenizer({ ...TINY, map: { 41: 5 } }), /must be a string/);
  assert.throws(() => new DeclaredTokenizer({ ...TINY, drop_s_after_joiner: 'yes' }), /must be a bool/);
  assert.throws(() => new DeclaredTokenizer({ ...TINY, stem: { min_length: 5, rules: [{ suffix: '' }] } }), /malformed/);
  assert.throws(() => new DeclaredTokenizer(TINY).tokenize(42), TypeError);
});

test('the plain SHA-256 (pages on plain http have no crypto.subtle) equals Web Crypto', async () => {
  const { sha256, sha256Plain } = await import('../src/sha256.js');
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 70_000]) {
    const bytes = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 255);
    assert.equal(sha256Plain(bytes), await sha256(bytes), `${n} bytes`);
  }
  assert.equal(sha256Plain(new TextEncoder().encode('abc')),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

/** A seeded generator of ASCII texts heavy in what tokenizers treat specially: case, joiners, separators, digits. */
function asciiTexts(count, seed = 7) {
  const pieces = ['a', 'B', 'z', 'x', "'", '`', ' ', '  ', '\t', '-', '?', '.', '1', '9', 's', 'ing', 'ss', 'big', 'come',
    'up', 'with', 'larg', '\u0001', '\u0002', '\x7f', 'dancing', 'glass', "'s"];
  let state = seed;
  const next = (n) => { state = (state * 1103515245 + 12345) % 2147483648; return state % n; };
  return Array.from({ length: count }, () => Array.from({ length: next(9) }, () => pieces[next(pieces.length)]).join(''));
}

const ALIASED = { ...TINY, version: 3, aliases: { big: 'larg', 'come up': 'invent', come: 'arriv', larg: 'x', 'x come': 'y' } };

test('the ASCII path gives the code-point path\'s words, whatever the declaration', () => {
  const declarations = [TINY, ALIASED, { ...TINY, joiners: [1, 39] }, { ...TINY, letters: [[1, 2], [97, 122]] },
    { ...TINY, map: { ...TINY.map, '2d': "'", 41: ' ', '3f': 'x\u2019y' }, joiners: [39, 0x2019] }];
  for (const declaration of declarations) {
    const tok = new DeclaredTokenizer(declaration);
    assert.notEqual(tok.asciiOut, null); // the path under test
    for (const text of asciiTexts(3000)) assert.deepEqual(tok.unstemmedAscii(text), tok.unstemmedAny(text), JSON.stringify(text));
  }
});

test('idEncoder equals looking up each token, phrases included, and again from its cache', () => {
  const tok = new DeclaredTokenizer(ALIASED);
  const index = new Map(['<PAD>', '<UNK>', 'larg', 'invent', 'with', 'arriv', 'come', 'danc'].map((t, i) => [t, i]));
  const encode = tok.idEncoder(index, 1);
  for (const text of [...asciiTexts(2000), 'come up with big', 'x come', 'Dancing comes \u00e9t\u00e9']) {
    const want = tok.tokenize(text).map((t) => index.get(t) ?? 1);
    assert.deepEqual(encode(text), want, JSON.stringify(text));
    assert.deepEqual(encode(text), want, JSON.stringify(text));
  }
  assert.throws(() => encode(3), TypeError);
});
