/**
 * Verify a bundle's signature, model.sig, as Python's rnnqa.runtime.signature does: an OpenSSF model signing
 * v1.0 signature (a Sigstore bundle holding a DSSE envelope, signed with an ECDSA P-256/384/521 key) over an
 * in-toto statement that lists the sha256 of every other file of the bundle.
 *
 * The checks, their order and their reasons are Python's (tests/clients/test_js_signing.py holds both runtimes
 * to the same reason per tampering); the cryptography is the platform's: node:crypto in Node (node.js's
 * `nodePublicKey`), Web Crypto in the browser (`webPublicKey`, here: Node has Web Crypto too, and its tests
 * use both). A key is an object {label, fingerprint, verify(signatureDer, data) → Promise<boolean>}.
 */

import { BundleError, ConfigError } from './errors.js';
import { sha256 } from './sha256.js';

export const SIGNATURE_FILE = 'model.sig';
/** Set to a PEM public key's path, every `load` in the Node process requires a bundle signed with that key. */
export const PUBLIC_KEY_ENV = 'RNNQA_PUBLIC_KEY';
export const MAX_SIGNATURE_BYTES = 1 << 20; // a signature of a few files is ~2 KB

const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
const PREDICATE_TYPE = 'https://model_signing/signature/v1.0';
/** The curves the spec's key mode supports (P-256 recommended) → the hash its ECDSA uses, and the size of r, s. */
export const CURVES = {
  'P-256': { hash: 'SHA-256', bytes: 32 },
  'P-384': { hash: 'SHA-384', bytes: 48 },
  'P-521': { hash: 'SHA-512', bytes: 66 },
};
const NOT_SIGNED = 'missing — the bundle is not signed (sign it with qa-sign, or export it with qa-export --sign-key)';

/**
 * The DER SubjectPublicKeyInfo in PEM text (`openssl ec -in key.pem -pubout`), or a ConfigError naming `label`.
 * Only a PUBLIC KEY block: a private key is refused, as Python refuses it.
 */
export function pemToDer(text, label) {
  const match = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(String(text));
  let der = null;
  try {
    der = match && base64Bytes(match[1].replace(/\s+/g, ''));
  } catch {
    der = null;
  }
  if (!der || der.length === 0) throw new ConfigError(`${label}: not a PEM public key`);
  return der;
}

/** PEM text of DER SubjectPublicKeyInfo bytes, as OpenSSL (and Python's cryptography) write it. */
export function derToPem(der) {
  const lines = base64Text(der).match(/.{1,64}/g);
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}

/**
 * A key for `verifySignature` from PEM text, with Web Crypto (browsers on https:// or localhost; Node).
 * `label` names the key in messages (Python names the key file's path).
 * @throws {ConfigError} not a PEM public key, or not on P-256/384/521; no Web Crypto in this page
 */
export async function webPublicKey(pem, label = 'the public key') {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    throw new ConfigError(`${label}: verifying signatures needs Web Crypto (a page served over https:// or from localhost)`);
  }
  const der = pemToDer(pem, label);
  for (const [namedCurve, { hash, bytes }] of Object.entries(CURVES)) {
    let key;
    try {
      key = await subtle.importKey('spki', der, { name: 'ECDSA', namedCurve }, true, ['verify']);
    } catch {
      continue; // another curve, or not an EC key
    }
    const canonical = new Uint8Array(await subtle.exportKey('spki', key));
    return {
      label,
      curve: namedCurve,
      fingerprint: await sha256(new TextEncoder().encode(derToPem(canonical))),
      async verify(signatureDer, data) {
        const raw = derToRaw(signatureDer, bytes);
        return raw !== null && subtle.verify({ name: 'ECDSA', hash }, key, raw, data);
      },
    };
  }
  throw new ConfigError(`${label}: not an ECDSA P-256, P-384 or P-521 public key`);
}

/**
 * Check that `signature` (model.sig's bytes, or null where the bundle has none) was made with `key` and
 * covers exactly `contents` (every other file of the bundle, by name, as read: the manifest last, the order
 * in which changed files are named), each with the sha256 of those bytes.
 * @param {Uint8Array | null} signature
 * @param {Record<string, Uint8Array>} contents
 * @param {{label: string, fingerprint: string, verify: Function}} key
 * @throws {BundleError} naming model.sig or the file at fault, with Python's reason
 */
export async function verifySignature(signature, contents, key) {
  const signed = await signedDigests(signature, key);
  for (const name of Object.keys(contents).filter((n) => !signed.has(n)).sort()) {
    throw new BundleError(name, 'not covered by the signature (a file added or renamed after signing)');
  }
  for (const name of [...signed.keys()].filter((n) => !Object.hasOwn(contents, n)).sort()) {
    throw new BundleError(name, 'signed but missing from the bundle');
  }
  for (const [name, bytes] of Object.entries(contents)) {
    if (await sha256(bytes) !== signed.get(name)) {
      throw new BundleError(name, 'differs from the signed file — the bundle was modified after signing');
    }
  }
}

/** File name → sha256 hex, from the statement that `signature` signs with `key`: Python's checks, in its order
 * (the file's form, the key hint, the media type, the ECDSA signature, the payload type, the statement). */
async function signedDigests(signature, key) {
  if (signature === null) throw new BundleError(SIGNATURE_FILE, NOT_SIGNED);
  if (signature.length > MAX_SIGNATURE_BYTES) {
    throw new BundleError(SIGNATURE_FILE, `larger than ${MAX_SIGNATURE_BYTES >> 20} MiB: not a signature`);
  }
  const invalid = (why) => new BundleError(SIGNATURE_FILE, `not a valid signature: ${why}`);
  const bundle = parseUtf8Json(signature, invalid);
  // the form model_signing reads before it looks at the key: a Sigstore bundle with one DSSE envelope
  if (bundle === null || typeof bundle !== 'object' || Array.isArray(bundle)) throw invalid('not a JSON object');
  if (typeof bundle.mediaType !== 'string') throw invalid("'mediaType' missing or not a string");
  const material = field(bundle, 'verificationMaterial', 'object', invalid);
  const publicKey = field(material, 'publicKey', 'object', invalid);
  const hint = publicKey.hint ?? '';
  if (typeof hint !== 'string') throw invalid('the key hint is not a string');
  const envelope = field(bundle, 'dsseEnvelope', 'object', invalid);
  const payloadType = field(envelope, 'payloadType', 'string', invalid);
  const payload = base64Field(envelope, 'payload', invalid);
  const signatures = field(envelope, 'signatures', 'array', invalid);
  const sigs = signatures.map((entry) => base64Field(entry, 'sig', invalid));
  if (hint !== key.fingerprint) { // refused before the signature is checked, as in Python
    const signer = hint ? `key ${hint.slice(0, 16)}…` : 'a key it does not name';
    throw new BundleError(SIGNATURE_FILE, `made with another key (${signer}; ${key.label} is ${key.fingerprint.slice(0, 16)}…)`);
  }
  if (bundle.mediaType !== BUNDLE_MEDIA_TYPE) {
    throw invalid(`Invalid sigstore bundle, got media type ${bundle.mediaType} but expected ${BUNDLE_MEDIA_TYPE}`);
  }
  if (sigs.length === 0) throw invalid('the envelope holds no signature');
  if (!(await key.verify(sigs[0], pae(payload)))) {
    throw new BundleError(SIGNATURE_FILE, `does not verify with ${key.label}: the signature or the statement it ` +
      'signs was changed');
  }
  if (payloadType !== PAYLOAD_TYPE) throw invalid(`Expected DSSE payload ${PAYLOAD_TYPE}, but got ${payloadType}`);
  return statementDigests(parseUtf8Json(payload, invalid), invalid);
}

/** JSON in UTF-8, as Python reads it: no byte-order mark (json refuses one), no bad bytes. */
function parseUtf8Json(bytes, invalid) {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes));
  } catch (error) {
    throw invalid(error.message);
  }
}

function base64Field(object, name, invalid) {
  const text = field(object, name, 'string', invalid);
  try {
    return base64Bytes(text);
  } catch (error) {
    throw invalid(`'${name}' is not base64: ${error.message}`);
  }
}

/** The statement's file digests, after the checks model_signing makes of it. */
async function statementDigests(statement, invalid) {
  if (statement?._type !== STATEMENT_TYPE) throw invalid(`Expected in-toto ${STATEMENT_TYPE} payload, but got ${statement?._type}`);
  if (statement.predicateType !== PREDICATE_TYPE) {
    throw invalid(`Predicate type mismatch, expected ${PREDICATE_TYPE}, got ${statement.predicateType}`);
  }
  const subjects = field(statement, 'subject', 'array', invalid);
  if (subjects.length !== 1) throw invalid(`Expected only one subject, got ${subjects.length}`);
  field(subjects[0], 'name', 'string', invalid);
  const root = field(field(subjects[0], 'digest', 'object', invalid), 'sha256', 'string', invalid);
  const predicate = field(statement, 'predicate', 'object', invalid);
  const serialization = field(predicate, 'serialization', 'object', invalid);
  const method = serialization.method;
  if (method !== 'files' && method !== 'shards') throw invalid(`Unknown serialization type ${method}`);
  const needs = method === 'files' ? ['hash_type', 'allow_symlinks'] : ['hash_type', 'shard_size', 'allow_symlinks'];
  for (const name of needs) if (!(name in serialization)) throw invalid(`the ${method} serialization lacks '${name}'`);
  const digests = new Map();
  const all = [];
  for (const resource of field(predicate, 'resources', 'array', invalid)) {
    const name = field(resource, 'name', 'string', invalid);
    const algorithm = field(resource, 'algorithm', 'string', invalid);
    const digest = field(resource, 'digest', 'string', invalid);
    if (!/^([0-9a-fA-F]{2})*$/.test(digest)) throw invalid(`the digest of ${name} is not hex`);
    if (method === 'shards' && !/^.+:\d+:\d+$/.test(name)) throw invalid(`not a shard: ${name}`);
    all.push(digest.toLowerCase());
    digests.set(name, { algorithm, hex: digest.toLowerCase() });
  }
  const joined = Uint8Array.from(all.join('').match(/../g) ?? [], (h) => parseInt(h, 16));
  const obtained = await sha256(joined);
  if (obtained !== root) {
    throw invalid(`Manifest is inconsistent. Root digest is ${root}, but the included resources hash to ${obtained}`);
  }
  if (method !== 'files' || [...digests.values()].some((d) => d.algorithm !== 'sha256')) {
    throw new BundleError(SIGNATURE_FILE, `signs ${method} hashed with ${serialization.hash_type}; rnnqa verifies a ` +
      "sha256 per file (sign with qa-sign, or model_signing's defaults)");
  }
  return new Map([...digests].map(([name, d]) => [name, d.hex]));
}

/** DSSE v1's pre-authentication encoding of an in-toto payload: what the signature signs. */
export function pae(payload) {
  const head = new TextEncoder().encode(`DSSEv1 ${PAYLOAD_TYPE.length} ${PAYLOAD_TYPE} ${payload.length} `);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

/**
 * An ECDSA signature in DER (SEQUENCE of INTEGER r, s: what OpenSSL and Python write) as r ‖ s of `size`
 * bytes each (IEEE P1363: what Web Crypto reads), or null when it is not such a DER value.
 */
export function derToRaw(der, size) {
  const read = (at, tag) => { // [start of content, end] of the TLV at `at`, its length in DER's minimal form
    if (der[at] !== tag || at + 1 >= der.length) return null;
    let length = der[at + 1];
    let start = at + 2;
    if (length === 0x81) {
      [length, start] = [der[at + 2], at + 3];
      if (!(length >= 0x80)) return null; // a short length written long
    } else if (length > 0x7f) {
      return null; // r and s of P-521 fit a sequence of < 256 bytes
    }
    return start + length <= der.length ? [start, start + length] : null;
  };
  const seq = read(0, 0x30);
  if (!seq || seq[1] !== der.length) return null;
  const r = read(seq[0], 0x02);
  const s = r && read(r[1], 0x02);
  if (!s || s[1] !== seq[1]) return null;
  const out = new Uint8Array(2 * size);
  for (const [i, [start, end]] of [r, s].entries()) {
    if (end === start || (der[start] & 0x80)) return null; // empty or negative
    if (der[start] === 0 && end - start > 1 && !(der[start + 1] & 0x80)) return null; // a zero DER would not write
    const value = der[start] === 0 && end - start > 1 ? der.subarray(start + 1, end) : der.subarray(start, end);
    if (value.length > size) return null;
    out.set(value, (i + 1) * size - value.length);
  }
  return out;
}

function field(object, name, kind, invalid) {
  const value = object !== null && typeof object === 'object' ? object[name] : undefined;
  const ok = kind === 'array' ? Array.isArray(value)
    : kind === 'object' ? value !== null && typeof value === 'object' && !Array.isArray(value) : typeof value === kind;
  if (!ok) throw invalid(`'${name}' missing or not ${kind === 'array' ? 'an' : 'a'} ${kind}`);
  return value;
}

function base64Bytes(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function base64Text(bytes) {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}
