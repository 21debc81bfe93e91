/**
 * How a volume compares file names. NTFS ignores case; APFS and HFS+ (as formatted by default) ignore case and
 * Unicode normalisation, so a temp named in NFC belongs to a target listed in NFD. Linux file systems compare bytes.
 */
export interface NameMatching {
  caseInsensitive: boolean;
  normalisationInsensitive: boolean;
}

export const EXACT_NAMES: Readonly<NameMatching> = Object.freeze({
  caseInsensitive: false,
  normalisationInsensitive: false,
});

/** The usual volume of a platform; a case-sensitive APFS or NTFS folder then matches a little more than it should. */
export function nameMatchingFor(platform: NodeJS.Platform): NameMatching {
  if (platform === 'win32') return { caseInsensitive: true, normalisationInsensitive: false };
  if (platform === 'darwin') return { caseInsensitive: true, normalisationInsensitive: true };
  return EXACT_NAMES;
}

/** Per character and only when the length holds, like the volumes' simple case tables (no `ß` → `ss`). */
function foldCase(name: string): string {
  let folded = '';
  for (const char of name) {
    const lower = char.toLowerCase();
    folded += lower.length === char.length ? lower : char;
  }
  return folded;
}

/** The form two names share exactly when `matching` makes them one folder entry. */
export function nameKey(name: string, matching: NameMatching): string {
  const key = matching.normalisationInsensitive ? name.normalize('NFC') : name;
  return matching.caseInsensitive ? foldCase(key) : key;
}

const TRAILING_MARKS = /\p{M}+$/u;

/**
 * True when `prefix` begins `name` as `matching` compares names. Decomposed (NFD), so a prefix cut before a
 * character that composes with the one before it still begins the composed name; the prefix's trailing combining
 * marks are left out, because NFD reorders a run of marks that the cut may have split.
 */
export function startsWithName(name: string, prefix: string, matching: NameMatching): boolean {
  if (!matching.caseInsensitive && !matching.normalisationInsensitive) return name.startsWith(prefix);
  const key = (text: string) => {
    const form = matching.normalisationInsensitive ? text.normalize('NFD') : text;
    return matching.caseInsensitive ? foldCase(form) : form;
  };
  const start = matching.normalisationInsensitive ? key(prefix).replace(TRAILING_MARKS, '') : key(prefix);
  return key(name).startsWith(start);
}
