// GPT-2's reversible mapping of the 256 byte values onto printable characters, which byte-level BPE
// vocabularies are written in.

/** BYTE_LEVEL_CHARS[b] is the character standing for byte b. */
export const BYTE_LEVEL_CHARS: readonly string[] = (() => {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let extra = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : 256 + extra++));
})();

export const BYTE_OF_CHAR: ReadonlyMap<string, number> = new Map(BYTE_LEVEL_CHARS.map((ch, b) => [ch, b]));
