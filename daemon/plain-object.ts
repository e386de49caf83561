/**
 * Whether a value is an object of the kind JSON.parse and the worker's structured clone make
 * (prototype `Object.prototype`; not an array, class instance or null-prototype object). The
 * shortcuts that skip an SDK schema parse accept only such values, as the parse would rebuild
 * any other.
 */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}
