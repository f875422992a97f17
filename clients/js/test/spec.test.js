// docs/tokenizer.md's answers to what a port from the page alone had to guess (issue #27, item 5), in the
// JavaScript runtime; tests/runtime/test_tokenizer_spec.py pins them in Python and runs its declarations here too.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { BundleError, DeclaredTokenizer, load } from '../src/node.js';
import { BUNDLE, SKIP, copyBundle, refused, rehash } from './fixture.js';

const TINY = {
  spec: 'rnnqa-tokenizer', version: 2, kind: 'tiny', map: { 41: 'a', df: 'ss' }, letters: [[97, 122]],
  digits: [[48, 57]], joiners: [39], drop_s_after_joiner: true, space: [[32, 32]],
  stem: { min_length: 1, rules: [{ suffix: 'x', replacement: '', min_rest: 0 }] },
};

test('a word a stem rule empties is the token "", not dropped (its id is unk_id unless "" is a token)', () => {
  const tok = new DeclaredTokenizer(TINY);
  assert.deepEqual(tok.tokenize('x'), ['']);
  assert.deepEqual(tok.tokenize("a x' b"), ['a', '', 'b']);
  const aliased = new DeclaredTokenizer({ ...TINY, version: 3, aliases: { 'a b': 'ab', b: 'a' } });
  assert.deepEqual(aliased.tokenize('a x b'), ['a', '', 'a']); // no key spans the empty token
});

test('malformed declarations the page lists are refused', () => {
  for (const [name, change] of Object.entries({
    'padded map key': { map: { '00df': 'ss' } },
    'upper-case map key': { map: { DF: 'ss' } },
    'unsorted ranges': { letters: [[97, 122], [65, 90]] },
    'overlapping ranges': { letters: [[65, 90], [80, 100]] },
    'a range of hex strings': { letters: [['61', '7a']] },
    'a joiner as a string': { joiners: ['27'] },
    'space that is a letter': { space: [[32, 32], [97, 97]] },
    'U+0020 a joiner': { joiners: [32] },
    'kind absent': { kind: undefined },
    'an empty except_suffix': { stem: { min_length: 5, rules: [{ suffix: 's', replacement: '', min_rest: 4, except_suffix: '' }] } },
    'a stem rule that is not an object': { stem: { min_length: 5, rules: [null] } },
  })) {
    assert.throws(() => new DeclaredTokenizer({ ...TINY, ...change }), TypeError, name);
  }
});

describe('bundle-level answers of docs/tokenizer.md', { skip: SKIP }, () => {
  let dir;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'rnnqa-spec-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const copy = () => copyBundle(dir);
  const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
  const writeVocab = (bundle, text) => {
    writeFileSync(join(bundle, 'vocab.json'), text);
    rehash(bundle, 'vocab.json');
  };

  test('bundles are format 5; their tokenizer declarations are version 2 or 3', () => {
    const manifest = readJson(join(BUNDLE, 'manifest.json'));
    const vocab = readJson(join(BUNDLE, 'vocab.json'));
    assert.equal(manifest.format_version, 5);
    assert.ok('model_single.onnx' in manifest.files);
    assert.equal(vocab.tokenizer.spec, 'rnnqa-tokenizer');
    assert.ok([2, 3].includes(vocab.tokenizer.version));
  });

  test("model.gate_questions is an integer written as such: 5.0, -1, \"5\", true and null are refused, as in Python", async () => {
    for (const literal of ['5.0', '-1', '"5"', 'true', 'null']) {
      const bundle = copy();
      const manifest = readJson(join(bundle, 'manifest.json'));
      manifest.model.gate_questions = 'NUMBER';
      writeFileSync(join(bundle, 'manifest.json'), JSON.stringify(manifest).replace('"NUMBER"', literal));
      await refused(bundle, 'manifest.json', /^'model\.gate_questions' must be an integer ≥ 0 /);
    }
  });

  test('format_version and max_len are integers written as such: 4.0 and 32.0 are refused, as in Python', async () => {
    for (const [field, literal, reason] of [['format_version', '4.0', /^unsupported format version 4\.0 /],
      ['format_version', '"4"', /^unsupported format version "4" /], ['max_len', '32.0', /^missing or invalid 'max_len'$/],
      ['max_len', '3.2e1', /^missing or invalid 'max_len'$/]]) {
      const bundle = copy();
      const manifest = readJson(join(bundle, 'manifest.json'));
      manifest[field] = 'NUMBER';
      writeFileSync(join(bundle, 'manifest.json'), JSON.stringify(manifest).replace('"NUMBER"', literal));
      await refused(bundle, 'manifest.json', reason);
    }
    const nested = copy(); // the rule is the top-level field's: the model's own max_len is not checked here
    const manifest = readJson(join(nested, 'manifest.json'));
    manifest.model.note = { max_len: 'NUMBER' };
    writeFileSync(join(nested, 'manifest.json'), JSON.stringify(manifest).replace('"NUMBER"', '1.5'));
    await load(nested);
  });

  test('a malformed declaration in vocab.json is a BundleError naming vocab.json', async () => {
    for (const change of [{ map: { '00df': 'ss' } }, { map: { DF: 'ss' } }, { letters: [[97, 122], [65, 90]] },
      { letters: [[65, 90], [80, 100]] }, { space: [[32, 32], [97, 97]] }, { kind: undefined }]) {
      const bundle = copy();
      const vocab = readJson(join(bundle, 'vocab.json'));
      vocab.tokenizer = { ...TINY, ...change };
      writeVocab(bundle, JSON.stringify(vocab));
      await refused(bundle, 'vocab.json', /./);
    }
  });

  test('every number in vocab.json is written as an integer: 65.0, 5.0, 39e0, 10E-1 are refused', async () => {
    const places = [
      [(v) => { v.tokenizer.letters[0][0] = 'NUMBER'; }, '65.0'],
      [(v) => { v.tokenizer.stem.min_length = 'NUMBER'; }, '5.0'],
      [(v) => { v.tokenizer.version = 'NUMBER'; }, '2.0'],
      [(v) => { v.pad_id = 'NUMBER'; }, '0.0'],
      [(v) => { v.tokenizer.joiners[0] = 'NUMBER'; }, '39e0'],
      [(v) => { v.unk_id = 'NUMBER'; }, '10E-1'],
    ];
    for (const [change, literal] of places) {
      const bundle = copy();
      const vocab = readJson(join(bundle, 'vocab.json'));
      change(vocab);
      writeVocab(bundle, JSON.stringify(vocab).replace('"NUMBER"', literal));
      await refused(bundle, 'vocab.json',
        new RegExp(`^not a valid vocabulary: the number ${literal.replace('.', '\\.')} is not written as an integer ` +
          '\\(every number in vocab\\.json is one\\)$'));
    }
    const strings = copy(); // a "." or an "e" inside a string is no number
    const vocab = readJson(join(strings, 'vocab.json'));
    vocab.tokenizer.kind = 'stem 1.0 1e5 \\" 2.5';
    writeVocab(strings, JSON.stringify(vocab));
    await load(strings);
  });

  test('a byte order mark (vocab.json, manifest.json) or NaN is not JSON', async () => {
    const text = readFileSync(join(BUNDLE, 'vocab.json'), 'utf8');
    const bom = copy();
    writeVocab(bom, `\ufeff${text}`);
    await refused(bom, 'vocab.json', /^not valid JSON/);
    const nan = copy();
    const vocab = readJson(join(nan, 'vocab.json'));
    vocab.pad_id = 'NUMBER';
    writeVocab(nan, JSON.stringify(vocab).replace('"NUMBER"', 'NaN'));
    await refused(nan, 'vocab.json', /^not valid JSON/);
    const manifest = copy();
    writeFileSync(join(manifest, 'manifest.json'), `\ufeff${readFileSync(join(manifest, 'manifest.json'), 'utf8')}`);
    await refused(manifest, 'manifest.json', /^not valid JSON/);
  });

  test('an alias leads from a word outside the vocabulary onto a token, as Python requires', async () => {
    const base = readJson(join(BUNDLE, 'vocab.json'));
    for (const aliases of [{ zzzq: 'zzzr' }, { [base.tokens[2]]: base.tokens[3] }]) {
      const bundle = copy();
      writeVocab(bundle, JSON.stringify({ ...base, tokenizer: { ...base.tokenizer, version: 3, aliases } }));
      await refused(bundle, 'vocab.json', /an alias maps a word outside the vocabulary onto a vocabulary token/);
    }
    const bundle = copy();
    writeVocab(bundle, JSON.stringify({ ...base, tokenizer: { ...base.tokenizer, version: 3, aliases: { zzzq: base.tokens[2] } } }));
    assert.deepEqual((await load(bundle)).encode('zzzq'), [2]);
  });

  test('model.sig is the one file allowed outside manifest.files, never read, never listed', async () => {
    const signed = copy();
    writeFileSync(join(signed, 'model.sig'), 'not even JSON');
    await load(signed);
    const listed = copy();
    writeFileSync(join(listed, 'model.sig'), 'x');
    rehash(listed, 'model.sig');
    await refused(listed, 'manifest.json', /'files' must list the sha256 of exactly/);
    const folder = copy();
    mkdirSync(join(folder, 'model.sig'));
    await refused(folder, 'model.sig', /is not a regular file/);
  });

  test('any other file outside manifest.files is refused; a name the format does not know, even listed', async () => {
    for (const name of ['.DS_Store', 'README.md', 'model.sig.bak', 'manifest.json.orig']) {
      const bundle = copy();
      writeFileSync(join(bundle, name), 'x');
      await refused(bundle, name, /unexpected file in the bundle/);
    }
    const bundle = copy();
    writeFileSync(join(bundle, 'notes.txt'), 'x');
    rehash(bundle, 'notes.txt');
    await refused(bundle, 'manifest.json', /'files' must list the sha256 of exactly/);
  });

  test('a hash in upper case is a mismatch', async () => {
    const bundle = copy();
    const manifest = readJson(join(bundle, 'manifest.json'));
    manifest.files['vocab.json'] = manifest.files['vocab.json'].toUpperCase();
    writeFileSync(join(bundle, 'manifest.json'), JSON.stringify(manifest));
    await refused(bundle, 'vocab.json', /sha256 mismatch/);
  });
});
