/**
 * The errors the runtime throws on purpose, as in Python's rnnqa.errors.
 *
 *   BundleError    a bundle refused at load: `file` names the file at fault, `reason` says why
 *   QuestionError  a question with nothing to answer: "question is empty" or "question has no words"
 *                  (Python raises ValueError with the same messages); a non-string is a TypeError
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
