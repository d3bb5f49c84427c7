/** Reading config.json fields, with errors that name the field. */

export function integer(config: Record<string, unknown>, key: string, fallback?: number): number {
  const value = config[key] ?? fallback;
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 1)) {
    throw new TypeError(`loadModel: config.json's ${key} must be an integer >= 1, got ${JSON.stringify(config[key])}`);
  }
  return value;
}

export function number(config: Record<string, unknown>, key: string, fallback: number): number {
  const value = config[key] ?? fallback;
  if (!(typeof value === 'number' && Number.isFinite(value))) {
    throw new TypeError(`loadModel: config.json's ${key} must be a finite number, got ${JSON.stringify(config[key])}`);
  }
  return value;
}

/** A float that JSON cannot spell ({"__float__": "Infinity"}, as transformers writes it) or a number. */
export function float(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && value !== null && '__float__' in value) return Number((value as { __float__: string }).__float__);
  return NaN;
}
