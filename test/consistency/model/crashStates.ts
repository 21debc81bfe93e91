// Turns a durable base image plus a recorded trace into the on-disk states a power cut could leave.
// Rules (after Pillai et al., OSDI 2014): un-fsynced data may be missing, zero-filled or torn at 4 KiB blocks;
// a directory operation not followed by an fsync of its directory may be lost; either may persist out of order.
import {
  applyOperation,
  blocksOf,
  cloneImage,
  describeOperation,
  directoriesOf,
  type Fate,
  type FsImage,
  type InodeId,
  isDataOperation,
  isDirectoryOperation,
  type TraceEntry,
  wipeTmpfs,
} from './image';

/** One independently persisting piece of un-fsynced work: a directory operation, a truncate, or a 4 KiB block of a write. */
export interface PersistenceUnit {
  entry: number;
  piece: number;
  choices: readonly Fate[];
  label: string;
}

export interface CrashState {
  /** How many trace entries had completed when the power went. */
  point: number;
  image: FsImage;
  /** The units that did not fully persist, e.g. "lost: rename a -> b". Empty when everything issued persisted. */
  deviations: string[];
}

export interface EnumerationOptions {
  /** Enumerate every combination when there are at most this many at a crash point; otherwise sample. */
  exhaustiveLimit: number;
  /** States drawn per sampled crash point (the all/none/single-deviation states come first). */
  samplesPerPoint: number;
  seed: number;
}

const DIRECTORY_FATES: readonly Fate[] = ['persisted', 'lost'];
const BLOCK_FATES: readonly Fate[] = ['persisted', 'lost', 'zeroed'];
const NEVER = Number.POSITIVE_INFINITY;

/** For each trace entry, the index of the first later barrier (fsync of its file or of its directory) that forces it. */
export function forcingBarriers(trace: readonly TraceEntry[]): number[] {
  const forcedAt = trace.map(() => NEVER);
  const pendingData = new Map<InodeId, number[]>();
  const pendingDir = new Map<InodeId, number[]>();
  const push = (map: Map<InodeId, number[]>, key: InodeId, index: number) => {
    const list = map.get(key) ?? [];
    list.push(index);
    map.set(key, list);
  };
  trace.forEach(({ op }, index) => {
    if (isDataOperation(op)) push(pendingData, op.inode, index);
    else if (isDirectoryOperation(op)) for (const dir of directoriesOf(op)) push(pendingDir, dir, index);
    else if (op.kind === 'fsync' || op.kind === 'fsyncDir') {
      // ext4-like: fsync of a file makes its data durable, not its name; only fsync of the directory does that.
      const map = op.kind === 'fsync' ? pendingData : pendingDir;
      const key = op.kind === 'fsync' ? op.inode : op.dir;
      for (const waiting of map.get(key) ?? []) forcedAt[waiting] = Math.min(forcedAt[waiting]!, index);
      map.delete(key);
    }
  });
  return forcedAt;
}

/** Inodes living on a RAM file system: their fate does not matter, a crash wipes them. */
function tmpfsInodes(base: FsImage, trace: readonly TraceEntry[]): Set<InodeId> {
  const devices = new Map<InodeId, string>();
  for (const [id, inode] of base.inodes) devices.set(id, inode.device);
  for (const { op } of trace) if (op.kind === 'create' || op.kind === 'mkdir') devices.set(op.inode, op.device);
  return new Set([...devices].filter(([, device]) => device === 'tmpfs').map(([id]) => id));
}

/** The units still un-fsynced when the crash comes after `point` entries. */
export function unforcedUnits(
  base: FsImage,
  trace: readonly TraceEntry[],
  point: number,
  forcedAt = forcingBarriers(trace),
): PersistenceUnit[] {
  const wiped = tmpfsInodes(base, trace);
  const units: PersistenceUnit[] = [];
  for (let entry = 0; entry < point; entry++) {
    if (forcedAt[entry]! < point) continue;
    const { op } = trace[entry]!;
    if (isDirectoryOperation(op)) {
      const dirs = directoriesOf(op);
      if (dirs.every((dir) => wiped.has(dir))) continue;
      units.push({ entry, piece: 0, choices: DIRECTORY_FATES, label: describeOperation(op) });
    } else if (op.kind === 'truncate') {
      if (!wiped.has(op.inode)) units.push({ entry, piece: 0, choices: DIRECTORY_FATES, label: describeOperation(op) });
    } else if (op.kind === 'write') {
      if (wiped.has(op.inode)) continue;
      blocksOf(op.offset, op.bytes.length).forEach(([start, end], piece) => {
        units.push({ entry, piece, choices: BLOCK_FATES, label: `write ${op.path} [${start}, ${end})` });
      });
    }
  }
  return units;
}

/** Replays the first `point` entries over `base`, giving each unforced unit the fate `assignment` picks for it. */
export function replay(
  base: FsImage,
  trace: readonly TraceEntry[],
  point: number,
  units: readonly PersistenceUnit[],
  assignment: readonly number[],
): CrashState {
  const fates = new Map<number, Fate[]>();
  const deviations: string[] = [];
  units.forEach((unit, index) => {
    const fate = unit.choices[assignment[index]!]!;
    const list = fates.get(unit.entry) ?? [];
    list[unit.piece] = fate;
    fates.set(unit.entry, list);
    if (fate !== 'persisted') deviations.push(`${fate}: ${unit.label}`);
  });
  const image = cloneImage(base);
  for (let entry = 0; entry < point; entry++) {
    const { op, at } = trace[entry]!;
    const list = fates.get(entry);
    // Pieces not listed (forced, or the live view) persisted.
    applyOperation(image, op, list ? Array.from(list, (fate) => fate ?? 'persisted') : [], at);
  }
  wipeTmpfs(image);
  return { point, image, deviations };
}

/** A small deterministic PRNG (mulberry32), so sampled runs repeat exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Number of fate combinations for `units` (Infinity once past any sane bound). */
export function combinationCount(units: readonly PersistenceUnit[]): number {
  let total = 1;
  for (const unit of units) {
    total *= unit.choices.length;
    if (total > Number.MAX_SAFE_INTEGER) return NEVER;
  }
  return total;
}

/** The fate assignments to try at one crash point: all of them when few, else a seeded sample with the edge cases first. */
export function* assignments(
  units: readonly PersistenceUnit[],
  options: EnumerationOptions,
  point: number,
): Generator<number[]> {
  const total = combinationCount(units);
  if (total <= options.exhaustiveLimit) {
    const digits = units.map(() => 0);
    for (let n = 0; n < total; n++) {
      yield [...digits];
      for (let position = 0; position < digits.length; position++) {
        digits[position]! += 1;
        if (digits[position]! < units[position]!.choices.length) break;
        digits[position] = 0;
      }
    }
    return;
  }
  const seen = new Set<string>();
  const fresh = (candidate: number[]) => {
    const key = candidate.join('');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  const allPersisted = units.map(() => 0);
  const edgeCases: number[][] = [allPersisted, units.map(() => 1)];
  // Every single deviation from "all persisted": each unit lost alone, each block zeroed alone.
  units.forEach((unit, index) => {
    for (let choice = 1; choice < unit.choices.length; choice++) {
      const candidate = [...allPersisted];
      candidate[index] = choice;
      edgeCases.push(candidate);
    }
  });
  let produced = 0;
  for (const candidate of edgeCases) {
    if (produced >= options.samplesPerPoint) return;
    if (fresh(candidate)) {
      produced++;
      yield candidate;
    }
  }
  const random = seededRandom(options.seed ^ Math.imul(point + 1, 0x9e3779b1));
  for (let attempts = 0; produced < options.samplesPerPoint && attempts < options.samplesPerPoint * 4; attempts++) {
    const candidate = units.map((unit) => Math.floor(random() * unit.choices.length));
    if (fresh(candidate)) {
      produced++;
      yield candidate;
    }
  }
}
