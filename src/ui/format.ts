import { formatAge, type Orphan, type OrphanKind } from '../core/orphans';

const KIND_LABELS: Record<OrphanKind, string> = {
  'crash-safe': 'Crash-Safe State',
  'write-file-atomic': 'write-file-atomic (npm)',
  atomically: 'atomically',
  steno: 'steno / lowdb',
  vscode: 'VS Code save',
  'tmp-suffix': '*.tmp.<id>',
  'dot-hex-tmp': '.<name>.<hex>.tmp',
  custom: 'your pattern',
};

/** Which tool left the orphan, for people. */
export function kindLabel(kind: OrphanKind): string {
  return KIND_LABELS[kind] ?? kind;
}

export function describeOrphan(orphan: Orphan): string {
  return `${kindLabel(orphan.kind)}, ${formatAge(orphan.ageMs)} old`;
}
