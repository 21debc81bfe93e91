import * as vscode from 'vscode';

/**
 * Context keys that tick the Get Started walkthrough's steps (`completionEvents: onContext:<key>` in package.json)
 * by what the user did, wherever they did it: `onCommand:` only sees commands run from the workbench (not a
 * notification's button, the CLI or a file another window wrote), and `onView:` only a view that opens while the
 * walkthrough listens, not one open from the start.
 */
export const WalkthroughKey = {
  /** The Orphaned Temp Files view has been visible in this window. */
  OrphansViewSeen: 'crashSafeState.walkthrough.orphansViewSeen',
  /** A file was recovered from a temp in this window. */
  Recovered: 'crashSafeState.walkthrough.recovered',
  /** A sweep removed an orphan in this window. */
  Swept: 'crashSafeState.walkthrough.swept',
  /** The to-do list holds a to-do (added here, in another window or by the CLI). */
  HasTodos: 'crashSafeState.walkthrough.hasTodos',
  /** A settings snapshot was taken on purpose (by the command or the CLI, not the automatic ones). */
  SnapshotTaken: 'crashSafeState.walkthrough.snapshotTaken',
} as const;
export type WalkthroughKey = (typeof WalkthroughKey)[keyof typeof WalkthroughKey];

/** The walkthrough step each key ticks, as VS Code names it: `<extension id>#<walkthrough id>#<step id>`. */
const STEP_OF_KEY: Record<WalkthroughKey, string> = {
  [WalkthroughKey.OrphansViewSeen]: 'orphans',
  [WalkthroughKey.Recovered]: 'recover',
  [WalkthroughKey.Swept]: 'sweep',
  [WalkthroughKey.HasTodos]: 'todos',
  [WalkthroughKey.SnapshotTaken]: 'todos',
};
const WALKTHROUGH_ID = 'crash-safe-state.crash-safe-state#gettingStarted';

const marked = new Set<WalkthroughKey>();

/**
 * Sets the key (once per window; a step once ticked stays ticked, so it is never cleared) and ticks its step.
 * VS Code creates its walkthrough service only when a walkthrough is first shown, and a key that is already true
 * then never ticks its step: so the step is also ticked directly, with the command of the step's own context menu
 * (Mark Step Complete). A VS Code without that command still has the context key.
 */
export function markWalkthrough(key: WalkthroughKey): void {
  if (marked.has(key)) return;
  marked.add(key);
  void vscode.commands.executeCommand('setContext', key, true);
  Promise.resolve(
    vscode.commands.executeCommand('welcome.markStepComplete', `${WALKTHROUGH_ID}#${STEP_OF_KEY[key]}`),
  ).catch(() => undefined);
}

/** The keys set so far, for diagnostics. */
export function walkthroughMarks(): WalkthroughKey[] {
  return [...marked].sort();
}

/** Marks `key` once `view` is visible: now, if it is already, or when it opens. */
export function markWhenVisible(view: vscode.TreeView<unknown>, key: WalkthroughKey): vscode.Disposable {
  if (view.visible) markWalkthrough(key);
  return view.onDidChangeVisibility(({ visible }) => {
    if (visible) markWalkthrough(key);
  });
}

/** Snapshot reasons the extension records by itself; any other (`command`, `cli`, a caller's) was asked for. */
const AUTOMATIC_SNAPSHOT_REASONS = new Set(['startup', 'auto']);

/** True for a snapshot the user asked for. */
export function isOwnSnapshot(reason: string): boolean {
  return !AUTOMATIC_SNAPSHOT_REASONS.has(reason);
}
