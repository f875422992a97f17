/**
 * The errors the runtime throws on purpose, as in Python's rnnqa.errors.
 *
 *   BundleError    a bundle refused at load: `file` names the file at fault, `reason` says why
 *   QuestionError  a question with nothing to answer: "question is empty" or "question has no words"
 *                  (Python raises ValueError with the same messages); a non-string is a TypeError
 *   ConfigError    a public key that cannot be read or is not an ECDSA P-256/384/521 key, or RNNQA_PUBLIC_KEY
 *                  set but empty (Python's rnnqa.errors.ConfigError, with the same messages)
 */

export class BundleError extends Error {
  /** @param {string} file @param {string} reason */
  constructor(file, reason) {
    super(`${file}: ${reason}`);
    this.name = 'BundleError';
    this.file = file;
    this.reason = reason;
  }
}

export class QuestionError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'QuestionError';
  }
}

export class ConfigError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'ConfigError';
  }
}
