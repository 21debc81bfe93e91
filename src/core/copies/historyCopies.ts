// VS Code's Local History: `User/History/<hash>/entries.json` = { version, resource, entries: [{ id, timestamp,
// source? }] }, each copy a file named `id` in the same folder. Everything in it is untrusted: entries.json is
// size-bounded and schema-checked, ids are plain file names, nothing is read through a symlink or out of its folder,
// and a History folder another user owns (or may write) is reported and not read.
import { join, posix, win32 } from 'node:path';
import { DescriptorsExhaustedError, mapBounded } from '../boundedOpens';
import { messageOf } from '../errors';
import { listFolder, unsafeFolderReason } from '../folderListing';
import { errnoOf, type FsLike, fileTypeOf } from '../fs';
import { parseJson } from '../json/json';
import { type CopyFinder, type FinderResult, type FoundCopy, loadFileCopy } from './copyModel';

/** The largest entries.json read. VS Code keeps 50 entries per file by default; 1 MiB holds over 10,000. */
export const MAX_ENTRIES_JSON_BYTES = 1024 * 1024;
/** Entries listed per file at most, newest first; the rest are reported. */
export const MAX_HISTORY_ENTRIES = 1000;
/** The largest time a Date holds. */
const MAX_DATE_MS = 8.64e15;
/** entries.json files read at once. */
const HISTORY_READS_AT_ONCE = 16;

export interface HistoryEntry {
  id: string;
  timestamp: number;
  source?: string;
  sourceDescription?: string;
}

/** One `<hash>` folder whose entries.json could be read. */
export interface HistoryFolder {
  /** The `<hash>` folder. */
  dir: string;
  /** `resource` as written. */
  resource: string;
  /** The local path it names exactly, or undefined when it cannot be mapped exactly. */
  path: string | undefined;
  entries: HistoryEntry[];
  /** Why some entries were left out. */
  skipped: string[];
}

export interface HistoryIndex {
  folders: HistoryFolder[];
  notes: string[];
}

export interface HistoryOptions {
  /**
   * `vscode-remote://AUTHORITY/path` resources also name local paths for these authorities, or for any (`'any'`).
   * VS Code keeps the history of a remote workspace on the remote host, so in a History folder of a server (code-server,
   * a remote extension host) every such resource names a path of that same machine; the browser's authority is not
   * known there.
   */
  remoteAuthorities?: readonly string[] | 'any';
  /** Stops a read of the History folder (the extension's start-up pass is cancellable): AbortError is thrown. */
  signal?: AbortSignal;
  /** Path rules: `win32` for drive letters and `\`. Default this platform. */
  platform?: NodeJS.Platform;
  /** The History folder's index, already read: a check of many files reads it once, not once per file. */
  index?: HistoryIndex;
}

/** A surrogate that is not half of a pair (in `u` mode a pair is one code point): no file name holds one. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The local path a resource URI names, exactly, or undefined: only `file:///…` (no host, query or fragment) and
 * `vscode-remote://<authority>/…` for an authority given; percent escapes must decode to valid UTF-8, and the path
 * must be absolute and normal (no `.`, `..`, `//`). Never a guess.
 */
export function resourceToPath(resource: string, options: HistoryOptions = {}): string | undefined {
  let encodedPath: string | undefined;
  const file = /^file:\/\/(?<authority>[^/?#]*)(?<path>\/[^?#]*)$/s.exec(resource)?.groups;
  if (file && file.authority === '') encodedPath = file.path;
  const remote = /^vscode-remote:\/\/(?<authority>[^/?#]+)(?<path>\/[^?#]*)$/s.exec(resource)?.groups;
  const authorities = options.remoteAuthorities;
  if (remote && (authorities === 'any' || authorities?.includes(remote.authority!))) encodedPath = remote.path;
  if (encodedPath === undefined) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(encodedPath);
  } catch {
    return undefined; // a bad escape or bytes that are not UTF-8: no exact name
  }
  if (decoded.includes('\0') || LONE_SURROGATE.test(decoded)) return undefined;
  if ((options.platform ?? process.platform) === 'win32') {
    const drive = /^\/(?<letter>[a-zA-Z]):(?<rest>\/.*)?$/s.exec(decoded)?.groups;
    if (!drive || decoded.includes('\\')) return undefined;
    const path = `${drive.letter!.toLowerCase()}:${(drive.rest ?? '/').replaceAll('/', '\\')}`;
    return win32.normalize(path) === path ? path : undefined;
  }
  return posix.normalize(decoded) === decoded && (decoded === '/' || !decoded.endsWith('/')) ? decoded : undefined;
}

/** The same path with a Windows drive letter in lower case, as VS Code writes it in URIs. */
function comparable(path: string, platform: NodeJS.Platform): string {
  return platform === 'win32' && /^[A-Z]:/.test(path) ? path[0]!.toLowerCase() + path.slice(1) : path;
}

/** An id that names a file in the entry's own folder and nothing else. */
export function isPlainEntryName(id: string): boolean {
  return (
    id.length > 0 &&
    Buffer.byteLength(id, 'utf8') <= 255 &&
    id !== '.' &&
    id !== '..' &&
    id !== 'entries.json' &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    !/[/\\:\u0000-\u001f\u007f]/u.test(id) &&
    !LONE_SURROGATE.test(id)
  );
}

const uidNow = (): number | undefined => process.getuid?.();

/** Why a folder of Local History is not read (another user's, writable by others, not a folder); undefined: fine. */
async function historyFolderProblem(fs: FsLike, dir: string): Promise<string | undefined> {
  const stats = await fs.lstat(dir);
  if (stats.isSymbolicLink()) return 'it is a symbolic link';
  if (!stats.isDirectory()) return `it is not a folder (${fileTypeOf(stats)})`;
  const uid = uidNow();
  return uid === undefined ? undefined : unsafeFolderReason(fs, dir, uid);
}

/** entries.json, checked: an object with a string resource and an array of entries; bad entries are counted. */
function decodeEntries(text: string): { resource: string; entries: HistoryEntry[]; skipped: string[] } | string {
  const parsed = parseJson(text, 'json');
  if (!parsed.ok) return `not valid JSON (${parsed.position.message})`;
  const value = parsed.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const { resource, entries } = value as { resource?: unknown; entries?: unknown };
  if (typeof resource !== 'string') return 'no resource';
  if (!Array.isArray(entries)) return 'no entries array';
  const good: HistoryEntry[] = [];
  const skipped: string[] = [];
  for (const entry of entries as unknown[]) {
    const { id, timestamp, source, sourceDescription } = (entry ?? {}) as Record<string, unknown>;
    if (typeof id !== 'string' || !isPlainEntryName(id)) {
      skipped.push(`an id that is not a plain file name (${JSON.stringify(id)?.slice(0, 80)})`);
      continue;
    }
    // A time a Date can hold (±8.64e15 ms): anything else is no time at all, and would break every display of it.
    if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || Math.abs(timestamp) > MAX_DATE_MS) {
      skipped.push(`${id}: no usable timestamp`);
      continue;
    }
    good.push({
      id,
      timestamp,
      ...(typeof source === 'string' ? { source } : {}),
      ...(typeof sourceDescription === 'string' ? { sourceDescription } : {}),
    });
  }
  good.sort((a, b) => b.timestamp - a.timestamp);
  if (good.length > MAX_HISTORY_ENTRIES) {
    skipped.push(`${good.length - MAX_HISTORY_ENTRIES} entries beyond the newest ${MAX_HISTORY_ENTRIES}`);
    good.length = MAX_HISTORY_ENTRIES;
  }
  return { resource, entries: good, skipped };
}

/** Reads one `<hash>/entries.json`; a reason when it cannot be used. */
async function readFolder(fs: FsLike, dir: string, options: HistoryOptions): Promise<HistoryFolder | string> {
  options.signal?.throwIfAborted();
  const path = join(dir, 'entries.json');
  let text: string;
  try {
    const problem = await historyFolderProblem(fs, dir);
    if (problem) return `${dir}: ${problem}`;
    text = (await loadFileCopy(fs, path, { maxBytes: MAX_ENTRIES_JSON_BYTES, owner: uidNow() })).toString('utf8');
  } catch (error) {
    if (error instanceof DescriptorsExhaustedError) throw error;
    return `${path}: ${messageOf(error)}`;
  }
  const decoded = decodeEntries(text);
  if (typeof decoded === 'string') return `${path}: ${decoded}`;
  return { dir, ...decoded, path: resourceToPath(decoded.resource, options) };
}

/**
 * Every `<hash>` folder of a Local History folder with its entries, read with a bound on reads at once. Never throws
 * for what is on disk: a History folder that is missing, unreadable, another user's or writable by others is a note.
 */
export async function readHistoryIndex(
  fs: FsLike,
  historyDir: string,
  options: HistoryOptions = {},
): Promise<HistoryIndex> {
  const notes: string[] = [];
  let real: string;
  try {
    // The folder given may be reached through a symlink (the user's choice); nothing inside it is.
    real = await fs.realpath(historyDir);
    const problem = await historyFolderProblem(fs, real);
    if (problem) return { folders: [], notes: [`Local History ${historyDir} not read: ${problem}`] };
  } catch (error) {
    const code = errnoOf(error);
    const what = code === 'ENOENT' ? 'there is no such folder' : messageOf(error);
    return { folders: [], notes: [`Local History ${historyDir} not read: ${what}`] };
  }
  let entries: Awaited<ReturnType<typeof listFolder>>;
  try {
    entries = await listFolder(fs, real);
  } catch (error) {
    if (error instanceof DescriptorsExhaustedError) throw error;
    return { folders: [], notes: [`Local History ${historyDir} not read: ${messageOf(error)}`] };
  }
  const dirs = entries
    .filter((entry) => entry.isDirectory() && !entry.nameBytes)
    .map((entry) => join(real, entry.name));
  const read = await mapBounded(dirs, HISTORY_READS_AT_ONCE, (dir) => readFolder(fs, dir, options));
  const folders: HistoryFolder[] = [];
  const unreadable: string[] = [];
  for (const result of read) {
    if (typeof result === 'string') unreadable.push(result);
    else folders.push(result);
  }
  if (unreadable.length > 0) {
    notes.push(
      `${unreadable.length} Local History folder(s) in ${historyDir} could not be used (first: ${unreadable[0]})`,
    );
  }
  return { folders, notes };
}

/** The Local History copies of the target, from the History folder given. */
export function historyFinder(historyDir: string, options: HistoryOptions = {}): CopyFinder {
  const platform = options.platform ?? process.platform;
  return {
    source: 'history',
    async find({ fs, target, realTarget }): Promise<FinderResult> {
      const index = options.index ?? (await readHistoryIndex(fs, historyDir, options));
      const wanted = new Set([comparable(target, platform), comparable(realTarget, platform)]);
      const copies: FoundCopy[] = [];
      const notes = [...index.notes];
      for (const folder of index.folders) {
        if (folder.path === undefined || !wanted.has(comparable(folder.path, platform))) continue;
        if (folder.skipped.length > 0) {
          notes.push(`${join(folder.dir, 'entries.json')}: skipped ${folder.skipped.join('; ')}`);
        }
        for (const entry of folder.entries) {
          const path = join(folder.dir, entry.id);
          const detail = [entry.source, entry.sourceDescription].filter(Boolean).join(': ');
          copies.push({
            kind: 'history',
            label: 'Local History',
            time: entry.timestamp,
            path,
            where: path,
            ...(detail ? { detail } : {}),
            load: async () => {
              const problem = await historyFolderProblem(fs, folder.dir);
              if (problem) throw new Error(`${folder.dir}: ${problem}`);
              return loadFileCopy(fs, path, { owner: uidNow() });
            },
          });
        }
      }
      return { copies, notes };
    },
  };
}

/** Whether a History folder is code-server's (`…/code-server/User/History`): its resources are `vscode-remote:`. */
export function isCodeServerHistory(dir: string): boolean {
  return /[\\/]code-server[\\/]User[\\/]History[\\/]?$/.test(dir);
}

/** Where VS Code (and code-server) keep Local History by default on this platform, most likely first. */
export function defaultHistoryDirs(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  home = env.HOME ?? env.USERPROFILE ?? '',
): string[] {
  const path = platform === 'win32' ? win32 : posix;
  const dirs: string[] = [];
  if (platform === 'win32') {
    if (env.APPDATA) dirs.push(path.join(env.APPDATA, 'Code', 'User', 'History'));
  } else if (platform === 'darwin') {
    dirs.push(path.join(home, 'Library', 'Application Support', 'Code', 'User', 'History'));
  } else {
    dirs.push(path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'Code', 'User', 'History'));
  }
  if (platform !== 'win32') {
    dirs.push(path.join(env.XDG_DATA_HOME || path.join(home, '.local', 'share'), 'code-server', 'User', 'History'));
  }
  return dirs;
}
