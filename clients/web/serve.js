#!/usr/bin/env node
/**
 * Serve the answering page and a bundle on localhost:
 *
 *   node clients/web/serve.js --bundle artifacts/bundle [--port 8000] [--host 127.0.0.1]
 *
 * Routes: / (the page), /app.js, /rnnqa/* (clients/js/src), /ort/* (onnxruntime-web's files from
 * clients/js/node_modules), /bundle/* (the bundle's files, nothing else). Port 0 picks a free port;
 * the first line printed is the URL.
 */

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { BUNDLE_FILES as REQUIRED_FILES, OPTIONAL_FILES } from '../js/src/bundle.js';

const here = dirname(fileURLToPath(import.meta.url));
const BUNDLE_FILES = [...REQUIRED_FILES, ...OPTIONAL_FILES]; // what the page may fetch from the bundle
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.json': 'application/json', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream',
};

const { values } = parseArgs({
  options: {
    bundle: { type: 'string', default: 'artifacts/bundle' },
    port: { type: 'string', default: '8000' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
const roots = {
  '/rnnqa/': join(here, '..', 'js', 'src'),
  '/ort/': join(here, '..', 'js', 'node_modules', 'onnxruntime-web', 'dist'),
};

/** The file a URL path maps to, or null: never outside its root. */
function route(path) {
  if (path === '/' || path === '/index.html') return join(here, 'index.html');
  if (path === '/app.js') return join(here, 'app.js');
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
