/**
 * Where JSON.parse first fails in `text` (the shortest prefix that fails for a reason other than ending early),
 * as a 1-based line and column, so that an error can point at the place without quoting the text: V8's own
 * message quotes the text around the error, and files such as profiles and service.json hold credentials.
 */
export function jsonErrorPosition(text: string): { line: number; column: number } {
  const failsInside = (length: number): boolean => {
    try {
      JSON.parse(text.slice(0, length));
      return false;
    } catch (error) {
      const message = (error as Error).message;
      if (/Unexpected end of JSON input|Unterminated string/.test(message)) return false;
      const at = /at position (\d+)/.exec(message);
      return !(at && Number(at[1]) >= length);
    }
  };
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (failsInside(mid)) hi = mid;
    else lo = mid + 1;
  }
  const before = text.slice(0, Math.max(0, lo - 1));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}
