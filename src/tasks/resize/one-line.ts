/**
 * Error text on one line, at most 500 characters. libvips repeats a message once per failed
 * read (and its error buffer is shared by concurrent decodes), so repeated lines are dropped.
 */
export function oneLine(text: string): string {
  const parts = text
    .trim()
    .split(/\s*[\r\n]+\s*/)
    .filter(Boolean);
  const line = [...new Set(parts)].join('; ');
  return line.length > 500 ? `${line.slice(0, 497)}...` : line;
}
