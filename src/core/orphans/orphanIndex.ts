import { sep } from 'node:path';
import type { Orphan } from './orphanInspect';

/** Whether two judgements of one file say the same (its age aside, which moves with the clock). */
function sameOrphan(a: Orphan, b: Orphan): boolean {
  return (
    a.target === b.target &&
    a.kind === b.kind &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.validJson === b.validJson &&
    a.targetState === b.targetState &&
    a.note === b.note &&
    a.gitTracked === b.gitTracked &&
    a.group === b.group
  );
}

const addTo = (map: Map<string, Set<string>>, key: string, value: string) => {
  const set = map.get(key);
  if (set) set.add(value);
  else map.set(key, new Set([value]));
};

const under = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/**
 * The orphans known now, by path and by target, plus "dormant" temps: files that were orphans until their target
 * went, which become orphans again when it comes back (a weak pattern needs the target beside the temp).
 */
export class OrphanIndex {
  private readonly byPath = new Map<string, Orphan>();
  private readonly byTarget = new Map<string, Set<string>>();
  private readonly dormant = new Map<string, Set<string>>();
  private sorted: Orphan[] | undefined;
  /** Bumped by every change that someone listening should hear about. */
  version = 0;

  get size(): number {
    return this.byPath.size;
  }

  /** Every orphan, by path, with its age as of `now`. */
  list(now = Date.now()): readonly Orphan[] {
    this.sorted ??= [...this.byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const orphan of this.sorted) orphan.ageMs = Math.max(0, now - orphan.mtimeMs);
    return this.sorted;
  }

  get(path: string): Orphan | undefined {
    return this.byPath.get(path);
  }

  /** Paths of the temps (known or dormant) that name `target`. */
  tempsOf(target: string): readonly string[] {
    return [...(this.byTarget.get(target) ?? []), ...(this.dormant.get(target) ?? [])];
  }

  /** The targets of the orphans known now. */
  targets(): string[] {
    return [...this.byTarget.keys()];
  }

  set(orphan: Orphan): void {
    const old = this.byPath.get(orphan.path);
    if (old && sameOrphan(old, orphan)) return;
    if (old) this.unlink(old);
    this.forgetDormant(orphan.path);
    this.byPath.set(orphan.path, orphan);
    addTo(this.byTarget, orphan.target, orphan.path);
    this.changed();
  }

  /** Forgets `path`; `dormant`: the file is still there, only its target went, so its target's return re-judges it. */
  delete(path: string, dormant = false): void {
    const old = this.byPath.get(path);
    if (!dormant) this.forgetDormant(path);
    if (!old) return;
    this.unlink(old);
    if (dormant) {
      addTo(this.dormant, old.target, path);
    }
    this.changed();
  }

  /** True when some orphan (or dormant temp) is `path` or lies below it. */
  hasUnder(path: string): boolean {
    for (const known of this.byPath.keys()) if (under(known, path)) return true;
    for (const temps of this.dormant.values()) for (const temp of temps) if (under(temp, path)) return true;
    return false;
  }

  /** Forgets everything at or below `dir`, then records `found` (a fresh walk of `dir`). */
  replaceUnder(dir: string, found: Iterable<Orphan> = []): void {
    const fresh = new Map<string, Orphan>();
    for (const orphan of found) fresh.set(orphan.path, orphan);
    for (const path of [...this.byPath.keys()]) if (under(path, dir) && !fresh.has(path)) this.delete(path);
    for (const [target, temps] of [...this.dormant]) {
      for (const temp of temps) if (under(temp, dir)) temps.delete(temp);
      if (temps.size === 0) this.dormant.delete(target);
    }
    for (const orphan of fresh.values()) this.set(orphan);
  }

  private unlink(orphan: Orphan): void {
    this.byPath.delete(orphan.path);
    const temps = this.byTarget.get(orphan.target);
    temps?.delete(orphan.path);
    if (temps?.size === 0) this.byTarget.delete(orphan.target);
  }

  private forgetDormant(path: string): void {
    for (const [target, temps] of this.dormant) {
      if (temps.delete(path) && temps.size === 0) this.dormant.delete(target);
    }
  }

  private changed(): void {
    this.sorted = undefined;
    this.version += 1;
  }
}
