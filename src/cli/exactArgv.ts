// Node decodes argv and the working directory as UTF-8, replacing what is not UTF-8 by U+FFFD: `caf\xe9.json` arrives
// as "caf\uFFFD.json", another file's name. These checks refuse any argument, or working directory, whose string is not
// exactly the bytes the kernel holds, so a path is never approximated.
import { closeSync, openSync, readlinkSync, readSync } from 'node:fs';
import { printable } from './io';

/** Far above any real command line (Linux allows 128 KiB per argument); past it the bytes count as unverifiable. */
const MAX_CMDLINE_BYTES = 64 * 1024 * 1024;

/** The whole of a /proc file, read in chunks up to `maxBytes`; undefined when it cannot be read or is longer. */
function readProcFile(path: string, maxBytes: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(64 * 1024);
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) return Buffer.concat(chunks, total);
      total += read;
      if (total > maxBytes) return undefined;
      chunks.push(chunk.subarray(0, read));
    }
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * The exact bytes of the last `count` arguments (the ones after the script), from /proc/self/cmdline:
 * NUL-separated, ending in NUL. 'unverifiable' where there is no such file (macOS, Windows) or it does not fit.
 */
export function argvBytesOfThisProcess(count: number): Buffer[] | 'unverifiable' {
  const cmdline = readProcFile('/proc/self/cmdline', MAX_CMDLINE_BYTES);
  if (cmdline === undefined || cmdline.length === 0 || cmdline[cmdline.length - 1] !== 0) return 'unverifiable';
  const entries: Buffer[] = [];
  let start = 0;
  for (let end = cmdline.indexOf(0); end !== -1; end = cmdline.indexOf(0, start)) {
    entries.push(cmdline.subarray(start, end));
    start = end + 1;
  }
  // node [options] script args…: the arguments are the last `count` entries, and the script comes before them.
  if (entries.length < count + 2) return 'unverifiable';
  return entries.slice(entries.length - count);
}

/** The working directory's exact bytes from /proc/self/cwd; 'unverifiable' where that link does not exist. */
export function cwdBytesOfThisProcess(): Buffer | 'unverifiable' {
  try {
    return readlinkSync('/proc/self/cwd', { encoding: 'buffer' });
  } catch {
    return 'unverifiable';
  }
}

/** With the `u` flag a surrogate range matches only surrogates that are not part of a pair. */
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/** How many bytes of an argument a message shows; a 100 KiB argument must not become a 400 KiB message. */
const SHOWN_BYTES = 200;

/** Raw bytes as a shell's $'…' takes them: printable ASCII as is, the rest as \xNN; a long value is cut with "…". */
export function bytesAsEscapes(bytes: Buffer): string {
  let text = '';
  for (const byte of bytes.subarray(0, SHOWN_BYTES)) {
    const plain = byte >= 0x20 && byte < 0x7f && byte !== 0x5c && byte !== 0x27;
    text += plain ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `$'${text}'${bytes.length > SHOWN_BYTES ? `… (${bytes.length} bytes)` : ''}`;
}

/**
 * Why argument `index` (0-based, from the verb on) is not exactly what the user passed; undefined when it is.
 * Decoding replaces every byte sequence that is not UTF-8 by U+FFFD, so an argument without U+FFFD is exact, and one
 * with it is exact only if its bytes say so. Without bytes to compare ('unverifiable': no /proc) it is refused.
 * In-process callers pass no bytes: their strings are exact, unless they hold a lone surrogate.
 */
export function inexactArgumentProblem(
  arg: string,
  index: number,
  bytes: Buffer[] | 'unverifiable' | undefined,
): string | undefined {
  const which = `argument ${index + 1}`;
  if (LONE_SURROGATE.test(arg))
    return `${which} (${printable(arg.slice(0, SHOWN_BYTES))}) holds a lone surrogate, which no file name can hold exactly`;
  if (bytes === undefined || !arg.includes('\ufffd')) return undefined;
  if (bytes === 'unverifiable') {
    return `${which} (${printable(arg.slice(0, SHOWN_BYTES))}) holds U+FFFD, which may stand for bytes that are not UTF-8, and its exact bytes cannot be read here`;
  }
  const exact = bytes[index];
  if (exact?.equals(Buffer.from(arg, 'utf8'))) return undefined;
  const shown = exact === undefined ? printable(arg.slice(0, SHOWN_BYTES)) : bytesAsEscapes(exact);
  return `${which} (${shown}) is not valid UTF-8, so it cannot be used exactly (it would name a different file)`;
}

/** Why the working directory's string is not its exact bytes (the same rule as for arguments); undefined when it is. */
export function inexactCwdProblem(cwd: string, bytes: Buffer | 'unverifiable' | undefined): string | undefined {
  if (bytes === undefined || !cwd.includes('\ufffd')) return undefined;
  if (bytes !== 'unverifiable' && bytes.equals(Buffer.from(cwd, 'utf8'))) return undefined;
  const shown = bytes === 'unverifiable' ? printable(cwd) : bytesAsEscapes(bytes);
  return `the working directory ${shown} may not be valid UTF-8, so relative paths cannot be resolved exactly; run crash-safe from another folder`;
}
