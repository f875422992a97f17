/**
 * The substitution gate outside the graph, for the single-question graph (model_single.onnx): a port of
 * Python's rnnqa/runtime/gate.py, from the bundle's gate.json. model.onnx applies the same gate inside its
 * graph; the rule is in the Python module's docstring.
 */

export const GATE_VERSION = 1;
export const SYNONYM_GATE_VERSION = 2; // version 1 with "synonyms": ids compare by synonym class

export class SubstitutionGate {
  /**
   * @param {object} data gate.json, parsed
   * @param {number} vocabSize
   * @param {number} numAnswers
   * @throws {Error} not a version-1 table, a factor outside (0, 1], ids outside the vocabulary, or not one
   *   list of questions per answer (the messages Python's gives)
   */
  constructor(data, vocabSize, numAnswers) {
    if (data === null || typeof data !== 'object' || Array.isArray(data) ||
        (data.version !== GATE_VERSION && data.version !== SYNONYM_GATE_VERSION)) {
      throw new Error(`not a version-${GATE_VERSION} or -${SYNONYM_GATE_VERSION} gate table`);
    }
    const { factor } = data;
    if (typeof factor !== 'number' || !(factor > 0 && factor <= 1)) {
      throw new Error(`'factor' must be a number in (0, 1], got ${JSON.stringify(factor)}`);
    }
    const ids = (value, where) => {
      if (!Array.isArray(value) || !value.every((i) => Number.isInteger(i) && i >= 0 && i < vocabSize)) {
        throw new Error(`${where} must be a list of token ids below ${vocabSize}`);
      }
      return value;
    };
    this.content = new Set(ids(data.content, "'content'"));
    if (!Array.isArray(data.questions) || data.questions.length !== numAnswers) {
      throw new Error(`'questions' must hold one list per answer (${numAnswers})`);
    }
    this.questions = data.questions.map((rows, index) => {
      if (!Array.isArray(rows)) throw new Error(`'questions'[${index}] must be a list of questions`);
      return rows.map((row) => new Set(ids(row, `'questions'[${index}]`)));
    });
    this.factor = factor;
    this.classes = null;
    if (data.version === SYNONYM_GATE_VERSION) {
      if (!Array.isArray(data.synonyms)) throw new Error("'synonyms' must be a list of groups of token ids");
      this.classes = new Map();
      for (const group of data.synonyms) {
        ids(group, "'synonyms'");
        if (group.length < 2 || group.some((t) => this.classes.has(t))) {
          throw new Error("'synonyms' groups hold two or more ids, each id in one group");
        }
        const root = Math.min(...group);
        for (const t of group) this.classes.set(t, root);
      }
    } else if (data.synonyms !== undefined) {
      throw new Error(`'synonyms' needs version ${SYNONYM_GATE_VERSION}`);
    }
  }

  /** What the chosen answer's confidence is multiplied by for the question `ids`: 1, or `factor`. */
  scale(ids, answer) {
    let mine = ids.filter((t) => this.content.has(t));
    if (this.classes) mine = mine.map((t) => this.classes.get(t) ?? t);
    const asked = new Set(mine);
    let swapped = false;
    for (const words of this.questions[answer]) {
      let found = 0;
      for (const w of words) if (asked.has(w)) found += 1;
      const missing = words.size - found;
      const extra = mine.filter((t) => !words.has(t)).length;
      if (missing === 0 && extra === 0) return 1;
      if (missing === 1 && extra === 1) swapped = true;
    }
    return swapped ? this.factor : 1;
  }
}
