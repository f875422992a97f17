#!/usr/bin/env node
/**
 * qa-ask for Node, mirroring Python's qa-ask: the same options, the same output lines, the same exit codes.
 *
 *   node clients/js/bin/qa-ask.js --bundle DIR [--json] [--top-k K] [--threshold T] [--public-key FILE] [QUESTION ...]
 *
 * With no QUESTION, one question per line of standard input. Exactly one output line per question;
 * a bad question gets an error line and the rest go on (exit code 1 at the end); a bad bundle is one
 * line on stderr and exit code 1; a usage error exits 2. --public-key (or $RNNQA_PUBLIC_KEY): the bundle must be
 * signed with that PEM ECDSA key (model.sig), checked before any session exists.
 */

import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import { pyFixed, pyJson } from '../src/pyformat.js';
import { BundleError, ConfigError, QuestionError, load } from '../src/node.js';

const USAGE = 'usage: qa-ask.js [--bundle DIR] [--json] [--top-k K] [--threshold T] [--threads N] [--public-key FILE] ' +
  '[QUESTION ...]';
const EXIT_ERROR = 1;
const EXIT_USAGE = 2;

function options(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      bundle: { type: 'string', default: 'artifacts/bundle' },
      json: { type: 'boolean', default: false },
      'top-k': { type: 'string' },
      threshold: { type: 'string' },
      threads: { type: 'string' },
      'public-key': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const number = (name, check) => {
    if (values[name] === undefined) return undefined;
    const value = Number(values[name]);
    if (values[name].trim() === '' || !check(value)) throw new TypeError(`invalid value for --${name}: ${values[name]}`);
    return value;
  };
  return {
    help: values.help,
    bundle: values.bundle,
    json: values.json,
    topK: number('top-k', (v) => Number.isInteger(v) && v >= 1),
    threshold: number('threshold', (v) => v >= 0 && v <= 1),
    threads: number('threads', (v) => Number.isInteger(v) && v >= 1),
    publicKey: values['public-key'],
    questions: positionals,
  };
}

const round6 = (x) => Number(pyFixed(x, 6));

async function respond(model, question, opts) {
  let answers;
  try {
    answers = opts.topK ? await model.topK(question, opts.topK) : [await model.answer(question)];
  } catch (error) {
    if (!(error instanceof QuestionError || error instanceof TypeError)) throw error;
    return [opts.json ? pyJson({ question, error: error.message }) : `error: ${error.message}`, false];
  }
  const [best] = answers;
  if (opts.json) {
    const record = { question, answer: best.text, confidence: round6(best.confidence), known: best.known };
    if (opts.topK) record.top_k = answers.map((a) => ({ answer: a.text, confidence: round6(a.confidence) }));
    return [pyJson(record), true];
  }
  if (opts.topK) return [answers.map((a) => `${a.text} (${pyFixed(a.confidence, 3)})`).join(' | '), true];
  return [String(best), true];
}

/** A line of standard input with bytes that are not UTF-8: an error line, as Python's qa-ask gives it. */
class NotUtf8 {
  constructor(bytes) {
    this.shown = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes); // U+FFFD for each bad sequence
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeLine(bytes) {
  try {
    return strictUtf8.decode(bytes).replace(/[\r\n]+$/, '');
  } catch {
    return new NotUtf8(bytes);
  }
}

/** Lines of standard input as Python's qa-ask reads them: bytes split at "\n", a byte-order mark at the start
 * skipped, trailing "\r" and "\n" removed; a line that is not UTF-8 comes as a NotUtf8. */
async function* stdinLines(interactive) {
  if (interactive) {
    const rl = createInterface({ input: process.stdin, output: process.stderr, prompt: '? ' });
    rl.prompt();
    for await (const line of rl) {
      yield line;
      rl.prompt();
    }
    return;
  }
  let pending = Buffer.alloc(0);
  let first = true;
  const line = (bytes) => {
    if (first && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    first = false;
    return decodeLine(bytes);
  };
  for await (const chunk of process.stdin) {
    pending = Buffer.concat([pending, chunk]);
    let end;
    while ((end = pending.indexOf(0x0a)) !== -1) {
      yield line(pending.subarray(0, end));
      pending = pending.subarray(end + 1);
    }
  }
  if (pending.length) yield line(pending);
}

async function main() {
  let opts;
  try {
    opts = options(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${USAGE}\nerror: ${error.message}\n`);
    return EXIT_USAGE;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let model;
  try {
    // Questions given as arguments are few: loading koffi (~10 ms) would cost more than its faster runs save.
    model = await load(opts.bundle, { threshold: opts.threshold, threads: opts.threads, publicKey: opts.publicKey,
      directRun: opts.questions.length === 0 });
  } catch (error) {
    if (!(error instanceof BundleError || error instanceof ConfigError)) throw error;
    process.stderr.write(`error: ${error.message}\n`);
    return EXIT_ERROR;
  }
  const interactive = opts.questions.length === 0 && process.stdin.isTTY;
  const source = opts.questions.length ? opts.questions : stdinLines(interactive);
  let failed = false;
  for await (const question of source) {
    const [line, ok] = question instanceof NotUtf8
      ? [opts.json ? pyJson({ question: question.shown, error: 'not valid UTF-8' }) : 'error: not valid UTF-8', false]
      : await respond(model, question, opts);
    failed ||= !ok;
    process.stdout.write(`${line}\n`);
  }
  return failed ? EXIT_ERROR : 0;
}

process.exitCode = await main();
