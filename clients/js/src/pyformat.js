// Numbers and JSON as Python writes them, so qa-ask.js prints the lines Python's qa-ask prints.

/** Python's repr of a float, for JSON lines identical to Python's json.dumps (1.0, 5e-05). */
export function pyFloat(x) {
  if (Number.isInteger(x)) return x.toFixed(1);
  if (Math.abs(x) < 1e-4) return x.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return String(x);
}

/** JSON as Python's json.dumps(..., ensure_ascii=False) writes it: ", " and ": " separators. */
export function pyJson(value) {
  if (typeof value === 'number') return pyFloat(value);
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pyJson(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value);
}

/**
 * `x` with `digits` decimals as Python's round() and format() give it: correctly rounded, exact ties to
 * even (toFixed sends ties up: 0.0625 → "0.063" where Python prints 0.062). x ≥ 0; toFixed(100) is the
 * exact decimal value of any double that can be a tie at 6 digits or fewer.
 */
export function pyFixed(x, digits) {
  const exact = x.toFixed(100);
  const point = exact.indexOf('.');
  const rest = exact.slice(point + 1 + digits);
  if (!/^50*$/.test(rest)) return x.toFixed(digits);
  const kept = exact.slice(0, point + 1 + digits);
  return Number(kept.at(-1)) % 2 === 0 ? kept : x.toFixed(digits);
}
