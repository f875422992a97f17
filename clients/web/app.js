// The page: load the bundle (?bundle=URL, default /bundle/) with onnxruntime-web and answer on the client;
// with the public key page.json names, only a bundle signed with it.
import { UNKNOWN_TEXT, load } from '/rnnqa/web.js';

const $ = (id) => document.getElementById(id);
const bundleUrl = new URLSearchParams(location.search).get('bundle') ?? '/bundle/';

function show(question, answer) {
  $('answer').textContent = answer.known ? answer.text : UNKNOWN_TEXT;
  Object.assign($('answer').dataset, { question, known: answer.known, text: answer.text, confidence: answer.confidence });
  $('details').textContent = answer.known
    ? `confidence ${answer.confidence.toFixed(3)}`
    : `best guess “${answer.text}” at confidence ${answer.confidence.toFixed(3)}, below the threshold`;
}

try {
  const started = performance.now();
  const settings = await fetch('/page.json', { cache: 'no-store' }).then((r) => {
    if (!r.ok) throw new Error(`page.json: HTTP ${r.status}`);
    return r.json();
  });
  const model = await load(bundleUrl, { publicKey: settings.publicKey });
  const signed = model.bundle.signedBy ? `, signature verified (key ${model.bundle.signedBy.slice(0, 16)}…)` : '';
  $('status').textContent = `Ready: ${model.bundle.vocab.answers.length} answers, threshold ${model.threshold}${signed} ` +
    `(loaded and checked in ${Math.round(performance.now() - started)} ms, answered in this browser).`;
  $('question').disabled = $('submit').disabled = false;
  $('question').focus();
  $('ask').addEventListener('submit', async (event) => {
    event.preventDefault();
    const question = $('question').value;
    $('error').textContent = '';
    try {
      show(question, await model.answer(question));
    } catch (error) {
      $('answer').textContent = $('details').textContent = '';
      $('answer').dataset.question = question;
      $('error').textContent = error.message;
    }
  });
  document.body.dataset.state = 'ready';
  globalThis.rnnqaModel = model; // for benchmarks and the console
} catch (error) {
  $('status').textContent = '';
  $('error').textContent = `Cannot load the bundle at ${bundleUrl}: ${error.message}`;
  document.body.dataset.state = 'failed';
}
