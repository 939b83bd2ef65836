// One Prometheus exposition from several engines' (the data-parallel replicas'): each family once,
// with every engine's samples under it, told apart by the `engine` label (vLLM's DP labels its
// engines the same way). Prometheus requires a family's lines together, so texts cannot simply be
// concatenated.

interface Family {
  help: string | null;
  type: string | null;
  samples: string[];
}

/** `engine` replaces a sample's engine label, or is added where it has none. */
function relabel(sample: string, engine: string): string {
  if (/engine="[^"]*"/.test(sample)) return sample.replace(/engine="[^"]*"/, `engine="${engine}"`);
  const brace = sample.indexOf('{');
  const space = sample.indexOf(' ');
  if (brace >= 0 && (space < 0 || brace < space)) return `${sample.slice(0, brace + 1)}engine="${engine}",${sample.slice(brace + 1)}`;
  return `${sample.slice(0, space)}{engine="${engine}"}${sample.slice(space)}`;
}

export function mergeExpositions(sources: readonly { engine: string; text: string }[]): string {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { help: null, type: null, samples: [] }));
    return f;
  };
  for (const { engine, text } of sources) {
    let current: Family | null = null;
    for (const line of text.split('\n')) {
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta) {
        current = family(meta[2]!);
        if (meta[1] === 'HELP') current.help ??= line;
        else current.type ??= line;
      } else if (line.trim() !== '' && !line.startsWith('#')) {
        (current ?? family(line.split(/[{ ]/)[0]!)).samples.push(relabel(line, engine));
      }
    }
  }
  return [...families.values()].map((f) => [f.help, f.type, ...f.samples].filter((l) => l !== null).join('\n')).join('\n') + '\n';
}
