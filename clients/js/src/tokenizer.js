/**
 * The declared tokenizer (version 2, or 3 with aliases): text → tokens from the declaration in vocab.json alone.
 * docs/tokenizer.md is the spec; conformance.json in every bundle checks a port (test/tokenizer.test.js).
 * Pure JavaScript: no Unicode data of the engine is used, only the declaration's tables.
 */

export const SPEC = 'rnnqa-tokenizer';
export const VERSION = 2;
export const ALIAS_VERSION = 3; // version 2 with 'aliases' (step 6)
const MAX_CODE_POINT = 0x10ffff;
const SEPARATOR = 0;
const LETTER = 1;
const DIGIT = 2;
const JOINER = 3;

/** Sorted, disjoint, inclusive [first, last] code point ranges. */
class Ranges {
  /** @param {unknown} ranges @param {string} name */
  constructor(ranges, name) {
    if (!Array.isArray(ranges)) throw new TypeError(`'${name}' must be a list of ranges`);
    this.starts = new Uint32Array(ranges.length);
    this.ends = new Uint32Array(ranges.length);
    ranges.forEach((range, i) => {
      if (!Array.isArray(range) || range.length !== 2) {
        throw new TypeError(`'${name}' must be [first, last] pairs of integer code points`);
      }
      const [lo, hi] = range.map((c) => codePoint(c));
      if (lo > hi || (i > 0 && lo <= this.ends[i - 1])) throw new TypeError(`'${name}' must be sorted, disjoint ranges`);
      this.starts[i] = lo;
      this.ends[i] = hi;
    });
  }

  /** Whether a code point is in both these ranges and `other`. @param {Ranges} other */
  overlaps(other) {
    let i = 0;
    let j = 0;
    while (i < this.starts.length && j < other.starts.length) {
      if (this.ends[i] < other.starts[j]) i += 1;
      else if (other.ends[j] < this.starts[i]) j += 1;
      else return true;
    }
    return false;
  }

  /** @param {number} code */
  has(code) {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (code < this.starts[mid]) hi = mid - 1;
      else if (code > this.ends[mid]) lo = mid + 1;
      else return true;
    }
    return false;
  }
}

const ASCII = /^[\x00-\x7f]*$/;
const JOINER_MARKS = ['\u0001', '\u0002', '\ufdd0', '\ufdd1']; // candidates for the ASCII path's joiner stand-in
const CACHED_WORDS = 1 << 14; // idEncoder's word → id cache is emptied when it holds this many

export class DeclaredTokenizer {
  /**
   * @param {object} declaration the "tokenizer" object of vocab.json
   * @throws {TypeError} the declaration is not a version-2 declaration
   */
  constructor(declaration) {
    if (declaration === null || typeof declaration !== 'object') throw new TypeError('the tokenizer must be an object');
    if (declaration.spec !== SPEC || (declaration.version !== VERSION && declaration.version !== ALIAS_VERSION)) {
      throw new TypeError(`tokenizer version ${JSON.stringify(declaration.version ?? 1)} is not declared as data ` +
        `(this runtime reads ${SPEC} version ${VERSION} or ${ALIAS_VERSION})`);
    }
    this.aliases = new Map();
    this.phraseLength = 0;
    if (declaration.aliases !== undefined) {
      const { aliases } = declaration;
      if (declaration.version !== ALIAS_VERSION) throw new TypeError(`'aliases' needs version ${ALIAS_VERSION}`);
      if (aliases === null || typeof aliases !== 'object' || Array.isArray(aliases)) {
        throw new TypeError("'aliases' must be an object");
      }
      for (const [key, value] of Object.entries(aliases)) {
        const parts = key.split(' ');
        if (!parts.every((p) => p) || typeof value !== 'string' || !value || value.includes(' ')) {
          throw new TypeError(`aliases[${JSON.stringify(key)}]: keys are tokens joined by single spaces, values one token`);
        }
        this.aliases.set(key, value);
        this.phraseLength = Math.max(this.phraseLength, parts.length);
      }
    }
    const { map, joiners, stem } = declaration;
    if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new TypeError("'map' must be an object");
    if (typeof declaration.kind !== 'string') throw new TypeError("'kind' must be a string");
    this.kind = declaration.kind;
    this.map = new Map(Object.entries(map).map(([key, value]) => {
      if (typeof value !== 'string') throw new TypeError(`map[${key}] must be a string`);
      return [mapKey(key), value];
    }));
    this.letters = new Ranges(declaration.letters, 'letters');
    this.digits = new Ranges(declaration.digits, 'digits');
    this.space = new Ranges(declaration.space, 'space');
    if (this.space.overlaps(this.letters) || this.space.overlaps(this.digits)) {
      throw new TypeError('space characters must not be letters or digits');
    }
    if (!Array.isArray(joiners)) throw new TypeError("'joiners' must be a list");
    this.joiners = new Set(joiners.map((c) => codePoint(c)));
    if (this.joiners.has(0x20) || this.letters.has(0x20) || this.digits.has(0x20)) {
      throw new TypeError('U+0020 (space) must be a separator, not a joiner, letter or digit');
    }
    if (typeof declaration.drop_s_after_joiner !== 'boolean') throw new TypeError("'drop_s_after_joiner' must be a bool");
    this.dropS = declaration.drop_s_after_joiner;
    this.stemMin = 0;
    this.stemRules = [];
    if (stem !== null && stem !== undefined) {
      if (!Number.isInteger(stem.min_length) || !Array.isArray(stem.rules)) throw new TypeError("'stem' is malformed");
      this.stemMin = stem.min_length;
      this.stemRules = stem.rules.map((rule) => {
        if (rule === null || typeof rule !== 'object' || Array.isArray(rule) || typeof rule.suffix !== 'string' ||
            !rule.suffix || typeof rule.replacement !== 'string' || !Number.isInteger(rule.min_rest) ||
            !(rule.except_suffix === undefined || rule.except_suffix === null ||
              (typeof rule.except_suffix === 'string' && rule.except_suffix))) {
          throw new TypeError("a 'stem' rule is malformed: it needs a non-empty suffix, a string replacement, an " +
            'integer min_rest and an optional non-empty string except_suffix');
        }
        return { suffix: rule.suffix, replacement: rule.replacement, minRest: rule.min_rest,
          exceptSuffix: rule.except_suffix ?? null, suffixLength: [...rule.suffix].length };
      });
    }
    this.ascii = new Uint8Array(128).map((_, code) => this.classify(code));
    // unstemmedAscii's table: for each ASCII code, its mapping with separators as " " and joiners as joinerMark, a
    // character that is no letter or digit (none such: no table, every text goes code point by code point).
    this.joinerMark = JOINER_MARKS.find((mark) => ![LETTER, DIGIT].includes(this.classify(mark.codePointAt(0)))) ?? null;
    this.asciiOut = this.joinerMark === null ? null : Array.from({ length: 128 }, (_, code) => {
      const mapped = this.map.get(code) ?? String.fromCodePoint(code);
      let out = '';
      for (const c of mapped) {
        const kind = this.classify(c.codePointAt(0));
        out += kind === SEPARATOR ? ' ' : kind === JOINER ? this.joinerMark : c;
      }
      return out;
    });
  }

  /** @param {number} code */
  classify(code) {
    if (code < 128 && this.ascii) return this.ascii[code];
    if (this.joiners.has(code)) return JOINER;
    if (this.letters.has(code)) return LETTER;
    return this.digits.has(code) ? DIGIT : SEPARATOR;
  }

  /**
   * The tokens of `text` (spec steps 1–6).
   * @param {string} text
   * @returns {string[]}
   */
  tokenize(text) {
    const tokens = this.words(text);
    return this.aliases.size ? this.alias(tokens) : tokens;
  }

  /** Step 6: left to right, the longest run of tokens (joined by " ") that is a key becomes its alias. */
  alias(tokens) {
    const out = [];
    let i = 0;
    while (i < tokens.length) {
      let n = Math.min(this.phraseLength, tokens.length - i);
      for (; n > 0; n -= 1) {
        const value = this.aliases.get(n === 1 ? tokens[i] : tokens.slice(i, i + n).join(' '));
        if (value !== undefined) {
          out.push(value);
          break;
        }
      }
      if (n === 0) out.push(tokens[i]);
      i += Math.max(n, 1);
    }
    return out;
  }

  /**
   * `text → ids`, the same as `tokenize(text).map((t) => index.get(t) ?? unkId)`, with one cache from word to id
   * (steps 5 and 6 and the look-up, per word): the runtime's hot path, as Python's `id_encoder`. A word whose stem
   * starts a phrase alias is cached as `~id` (negative), so such a text, and only such a text, takes `tokenize`.
   * @param {Map<string, number>} index token → id
   * @param {number} unkId
   * @returns {(text: string) => number[]}
   * @throws {TypeError} (from the function) `text` is not a string
   */
  idEncoder(index, unkId) {
    const starts = new Set([...this.aliases.keys()].filter((k) => k.includes(' ')).map((k) => k.split(' ')[0]));
    const cache = new Map();
    const idOf = (word) => {
      let id = cache.get(word);
      if (id === undefined) {
        const stem = this.stem(word);
        const token = this.aliases.get(stem) ?? stem;
        id = index.get(token) ?? unkId;
        if (starts.has(stem)) id = ~id;
        if (cache.size >= CACHED_WORDS) cache.clear();
        cache.set(word, id);
      }
      return id;
    };
    return (text) => {
      const ids = this.unstemmed(text).map(idOf);
      if (starts.size && ids.some((id) => id < 0)) return this.tokenize(text).map((t) => index.get(t) ?? unkId);
      return ids;
    };
  }

  /**
   * The stemmed words of `text` (spec steps 1–5).
   * @param {string} text
   * @returns {string[]}
   */
  words(text) {
    return this.unstemmed(text).map((word) => this.stem(word));
  }

  /**
   * The words of `text` before stemming (spec steps 1–4).
   * @param {string} text
   * @returns {string[]}
   */
  unstemmed(text) {
    if (typeof text !== 'string') throw new TypeError(`expected a question as string, got ${typeof text}`);
    return this.asciiOut !== null && ASCII.test(text) ? this.unstemmedAscii(text) : this.unstemmedAny(text);
  }

  /**
   * unstemmed() of ASCII text (most questions), as Python's runtime does it: each character becomes its mapping
   * with separators as " " and joiners as the joiner mark (one table look-up), then the text splits on " ".
   */
  unstemmedAscii(text) {
    const table = this.asciiOut;
    let translated = '';
    for (let i = 0; i < text.length; i += 1) translated += table[text.charCodeAt(i)];
    const tokens = [];
    for (const piece of translated.split(' ')) {
      if (!piece) continue;
      const word = piece.includes(this.joinerMark) ? this.join(piece.split(this.joinerMark)) : piece;
      if (word) tokens.push(word);
    }
    return tokens;
  }

  /** unstemmed() of any text, code point by code point (spec steps 1–4 as written). */
  unstemmedAny(text) {
    const tokens = [];
    let parts = [];
    let part = '';
    let inWord = false;
    const endWord = () => {
      if (!inWord) return;
      parts.push(part);
      const word = this.join(parts);
      if (word) tokens.push(word);
      parts = [];
      part = '';
      inWord = false;
    };
    for (const char of text) {
      const mapped = this.map.get(char.codePointAt(0));
      for (const c of mapped === undefined ? char : mapped) {
        const kind = this.classify(c.codePointAt(0));
        if (kind === SEPARATOR) {
          endWord();
        } else if (kind === JOINER) {
          parts.push(part);
          part = '';
          inWord = true;
        } else {
          part += c;
          inWord = true;
        }
      }
    }
    endWord();
    return tokens;
  }

  /** Whether `text` holds only declared space (a runtime then says "question is empty"). */
  isBlank(text) {
    for (const char of text) if (!this.space.has(char.codePointAt(0))) return false;
    return true;
  }

  /** Step 4: the parts of a word between joiners, joined; with dropS, an "s" part after a non-empty one goes. */
  join(parts) {
    if (!this.dropS) return parts.join('');
    return parts.filter((p, i) => !(i > 0 && p === 's' && parts[i - 1] !== '')).join('');
  }

  /** Step 5: the first stem rule that applies to a word of letters only, at least `min_length` long. */
  stem(word) {
    if (this.stemRules.length === 0) return word;
    const chars = [...word];
    if (chars.length < this.stemMin || !chars.every((c) => this.classify(c.codePointAt(0)) === LETTER)) return word;
    for (const rule of this.stemRules) {
      if (word.endsWith(rule.suffix) && chars.length - rule.suffixLength >= rule.minRest &&
          !(rule.exceptSuffix && word.endsWith(rule.exceptSuffix))) {
        return word.slice(0, word.length - rule.suffix.length) + rule.replacement;
      }
    }
    return word;
  }
}

/** @param {unknown} value a code point written as a JSON integer (ranges, joiners): not a string, not true */
function codePoint(value) {
  if (!Number.isInteger(value) || value < 0 || value > MAX_CODE_POINT) {
    throw new TypeError(`not a code point: ${JSON.stringify(value)} (an integer 0 to 0x10FFFF)`);
  }
  return value;
}

/** @param {string} key a 'map' key: the code point in lower-case hexadecimal, no prefix, no padding */
function mapKey(key) {
  if (!/^(0|[1-9a-f][0-9a-f]*)$/.test(key) || key.length > 6 || parseInt(key, 16) > MAX_CODE_POINT) {
    throw new TypeError(`not a code point: ${JSON.stringify(key)} (lower-case hexadecimal, no prefix, no leading zeros)`);
  }
  return parseInt(key, 16);
}
