// Reads a routing file: one "address,mailstore" per line, '#' starts a comment.

export interface RouteEntry {
  address: string;
  mailstore: string;
}

export interface ParsedRoutes {
  entries: RouteEntry[];
  problems: string[];
}

/** Parses routing lines; every malformed line becomes a problem naming its line number. */
export function parseRouteLines(text: string, source: string): ParsedRoutes {
  const entries: RouteEntry[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.replace(/#.*$/, '').trim();
    if (line === '') return;
    const fields = line.split(/\s*[,;\t]\s*|\s+/);
    const [address, mailstore] = fields;
    if (fields.length !== 2 || !address || !mailstore || !address.includes('@')) {
      problems.push(`${source}:${index + 1}: expected "address,mailstore", got "${rawLine.trim()}"`);
      return;
    }
    entries.push({ address: address.toLowerCase(), mailstore });
  });
  return { entries, problems };
}
