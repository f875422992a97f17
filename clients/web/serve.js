#!/usr/bin/env node
/**
 * Serve the answering page and a bundle on localhost:
 *
 *   node clients/web/serve.js --bundle artifacts/bundle [--port 8000] [--host 127.0.0.1] [--public-key FILE]
 *
 * --public-key (else $RNNQA_PUBLIC_KEY): the page loads only a bundle signed with that key; an empty,
 * unreadable or non-ECDSA key stops the server before it serves anything.
 *
 * Routes: / (the page), /app.js, /page.json (the page's settings: the PEM public key the bundle must be signed
 * with, or null), /rnnqa/* (clients/js/src), /ort/* (onnxruntime-web's files from clients/js/node_modules),
 * /bundle/* (the bundle's files, model.sig included, nothing else). Port 0 picks a free port; the first line
 * printed is the URL.
 */

import { createReadStream, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { BUNDLE_FILES as REQUIRED_FILES, OPTIONAL_FILES, SIGNATURE_FILE } from '../js/src/bundle.js';
import { ConfigError } from '../js/src/errors.js';
import { PUBLIC_KEY_ENV, webPublicKey } from '../js/src/signature.js';

const here = dirname(fileURLToPath(import.meta.url));
const BUNDLE_FILES = [...REQUIRED_FILES, ...OPTIONAL_FILES, SIGNATURE_FILE]; // what the page may fetch from the bundle
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.json': 'application/json', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream',
};

const { values } = parseArgs({
  options: {
    bundle: { type: 'string', default: 'artifacts/bundle' },
    port: { type: 'string', default: '8000' },
    host: { type: 'string', default: '127.0.0.1' },
    'public-key': { type: 'string' },
  },
});
const SETTINGS = Symbol('page.json');
/** The page's settings, read once at start: a key that is empty, unreadable or not an ECDSA public key stops the
 * server rather than serving a page that verifies nothing. --public-key, else $RNNQA_PUBLIC_KEY (as qa-ask.js). */
async function pageSettings() {
  const path = values['public-key'] ?? process.env[PUBLIC_KEY_ENV];
  if (path === undefined) return JSON.stringify({ publicKey: null });
  try {
    if (!path.trim()) throw new ConfigError('--public-key (or RNNQA_PUBLIC_KEY) is empty: name a PEM public key');
    let pem;
    try {
      pem = readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError(`${path}: cannot read the public key: ${error.message}`);
    }
    await webPublicKey(pem, path); // refuses what the page would refuse, before any page is served
    return JSON.stringify({ publicKey: pem });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`error: ${error.message}`);
    process.exit(1);
  }
}
const settings = await pageSettings();
const roots = {
  '/rnnqa/': join(here, '..', 'js', 'src'),
  '/ort/': join(here, '..', 'js', 'node_modules', 'onnxruntime-web', 'dist'),
};

/** The file a URL path maps to, or null: never outside its root. */
function route(path) {
  if (path === '/' || path === '/index.html') return join(here, 'index.html');
  if (path === '/app.js') return join(here, 'app.js');
  if (path === '/page.json') return SETTINGS;
  if (path.startsWith('/bundle/')) {
    const name = path.slice('/bundle/'.length);
    return BUNDLE_FILES.includes(name) ? join(resolve(values.bundle), name) : null;
  }
  for (const [prefix, root] of Object.entries(roots)) {
    if (!path.startsWith(prefix)) continue;
    const file = resolve(root, `.${path.slice(prefix.length - 1)}`);
    return file.startsWith(resolve(root) + sep) ? file : null;
  }
  return null;
}

const server = createServer(async (request, response) => {
  let file = null;
  try {
    file = route(decodeURIComponent(new URL(request.url, 'http://localhost').pathname));
  } catch {
    file = null;
  }
  if (file === SETTINGS) {
    if (request.method !== 'GET') response.writeHead(405, { 'content-type': 'text/plain' }).end('GET only\n');
    else response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(settings);
    return;
  }
  const found = file && (await stat(file).catch(() => null))?.isFile();
  if (!found || request.method !== 'GET') {
    response.writeHead(found ? 405 : 404, { 'content-type': 'text/plain' }).end(found ? 'GET only\n' : 'not found\n');
    return;
  }
  response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
  createReadStream(file).pipe(response);
});

server.listen(Number(values.port), values.host, () => {
  const { port } = server.address();
  console.log(`serving http://${values.host}:${port}/ (bundle ${resolve(values.bundle)}); Ctrl-C stops`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
