/**
 * JSON.stringify, except that bigint values are written as exact JSON integers. JSON numbers have
 * no size limit; JavaScript's do (2^53), so a total the database sums past that is carried as a
 * bigint and written digit for digit rather than rounded.
 */
export function exactJson(value: unknown): string {
  const marker = `\u0000bigint:`;
  const text = JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? `${marker}${item}` : item));
  // A marker can only come from the replacer: no string of the API holds a NUL.
  return text.replace(new RegExp(`"\\\\u0000bigint:(-?\\d+)"`, 'g'), '$1');
}
