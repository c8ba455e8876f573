/** The ETag of an account version: the number, quoted (strong). */
export function etagOf(version: number): string {
  return `"${version}"`;
}

export type IfMatch = { any: true } | { versions: number[] };

/**
 * If-Match: `*`, or one or more entity tags (`"3"`, `W/"3"`, `"3", "4"`). Tags that are not
 * versions of ours match nothing, which RFC 9110 answers with 412.
 */
export function parseIfMatch(header: string | undefined): IfMatch | undefined {
  if (header === undefined) return undefined;
  if (header.trim() === '*') return { any: true };
  const versions = header
    .split(',')
    .map((tag) => /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(tag)?.[1])
    .filter((version): version is string => version !== undefined)
    .map(Number);
  return { versions };
}
