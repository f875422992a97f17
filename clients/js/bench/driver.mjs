#!/usr/bin/env node
// Timing driver for benchmarks/clients.py: loads a bundle in Node or in the page (Chromium), then
// answers timing requests from stdin so Python can interleave contenders within each repetition.
//   stdin:  {"op": "answer", "calls": N} | {"op": "batch", "size": S, "calls": N}   (one JSON per line)
//   stdout: {"seconds": total} per request; the first line is {"ready": true, "load_ms": ...}
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { target: { type: 'string' }, bundle: { type: 'string' },
  chromium: { type: 'string' }, question: { type: 'string' }, questions: { type: 'string' },
  binding: { type: 'boolean' } } });
const question = values.question;
const pool = JSON.parse(readFileSync(values.questions, 'utf8'));

async function nodeTarget() {
  const { load } = await import('../src/node.js');
  const started = performance.now();
  const model = await load(values.bundle, { directRun: !values.binding }); // --binding: onnxruntime-node's run
  const loadMs = performance.now() - started;
  const timed = async (fn, calls) => {
    const t0 = performance.now();
    for (let i = 0; i < calls; i += 1) await fn();
    return (performance.now() - t0) / 1000;
  };
  return {
    loadMs,
    engine: model.single?.engine ?? 'onnxruntime-node (public run)',
    answer: (calls) => timed(() => model.answer(question), calls),
    batch: (size, calls) => { const qs = pool.slice(0, size); return timed(() => model.answerBatch(qs), calls); },
    close: async () => {},
  };
}

async function browserTarget() {
  const { chromium } = await import('playwright-core');
  const serve = fileURLToPath(new URL('../../web/serve.js', import.meta.url));
  const server = spawn(process.execPath, [serve, '--bundle', values.bundle, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(String(d).match(/http:\/\/\S+/)[0])));
  const browser = await chromium.launch({ executablePath: values.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'] });
  const page = await browser.newPage();
  const started = performance.now();
  await page.goto(url);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
  const loadMs = performance.now() - started;
  const inPage = (args) => page.evaluate(async ({ op, q, qs, calls }) => {
    const model = globalThis.rnnqaModel;
    const t0 = performance.now();
    for (let i = 0; i < calls; i += 1) await (op === 'answer' ? model.answer(q) : model.answerBatch(qs));
    return (performance.now() - t0) / 1000;
  }, args);
  return {
    loadMs,
    engine: 'onnxruntime-web (WebAssembly)',
    answer: (calls) => inPage({ op: 'answer', q: question, calls }),
    batch: (size, calls) => inPage({ op: 'batch', qs: pool.slice(0, size), calls }),
    close: async () => { await browser.close(); server.kill(); },
  };
}

const target = values.target === 'browser' ? await browserTarget() : await nodeTarget();
await target.answer(50); // warm-up, as the Python side does
await target.batch(256, 2);
console.log(JSON.stringify({ ready: true, load_ms: target.loadMs, engine: target.engine }));
for await (const line of createInterface({ input: process.stdin })) {
  const request = JSON.parse(line);
  const seconds = request.op === 'answer' ? await target.answer(request.calls) : await target.batch(request.size, request.calls);
  console.log(JSON.stringify({ seconds }));
}
await target.close();
