/** Every command id the extension registers; package.json `contributes.commands` lists the same ids. */
export const CommandId = {
  Scan: 'crashSafeState.scan',
  Sweep: 'crashSafeState.sweep',
  Recover: 'crashSafeState.recover',
  ShowOrphans: 'crashSafeState.showOrphans',
  OpenLog: 'crashSafeState.openLog',
  Menu: 'crashSafeState.menu',
  SweepOne: 'crashSafeState.sweepOne',
  RecoverTarget: 'crashSafeState.recoverTarget',
  /** Recover From…: every good copy of a file, from every source (Local History, git, temps, backups). */
  RecoverFrom: 'crashSafeState.recoverFrom',
  Reveal: 'crashSafeState.reveal',
  /** Rescans, then finishes every interrupted group commit in the workspace, as start-up does. */
  FinishInterruptedGroupCommits: 'crashSafeState.finishInterruptedGroupCommits',
  // The to-do list (its view was called "Tasks" before, which VS Code's own Run Task made ambiguous).
  AddTodo: 'crashSafeState.addTodo',
  EditTodo: 'crashSafeState.editTodo',
  EditTodoNotes: 'crashSafeState.editTodoNotes',
  ToggleTodo: 'crashSafeState.toggleTodo',
  DeleteTodo: 'crashSafeState.deleteTodo',
  MoveTodoUp: 'crashSafeState.moveTodoUp',
  MoveTodoDown: 'crashSafeState.moveTodoDown',
  ClearDoneTodos: 'crashSafeState.clearDoneTodos',
  UndoTodoRemoval: 'crashSafeState.undoTodoRemoval',
  ReloadTodos: 'crashSafeState.reloadTodos',
  OpenTodoFile: 'crashSafeState.openTodoFile',
  RecoverTodos: 'crashSafeState.recoverTodos',
  TakeSettingsSnapshot: 'crashSafeState.takeSettingsSnapshot',
  RestoreSettingsSnapshot: 'crashSafeState.restoreSettingsSnapshot',
  ReopenWithCrashSafeSave: 'crashSafeState.reopenWithCrashSafeSave',
  /** The same as Reopen, titled for the Explorer item of a file that is not open. */
  OpenWithCrashSafeSave: 'crashSafeState.openWithCrashSafeSave',
  ReopenWithoutCrashSafeSave: 'crashSafeState.reopenWithoutCrashSafeSave',
  /** "Reveal in Explorer View" for a `crashsafe:` tab: the Explorer knows only the `file:` it edits. */
  RevealCrashSafeInExplorer: 'crashSafeState.revealCrashSafeInExplorer',
  /** Save in a crash-safe editor (Ctrl+S there): asks about content that does not parse before VS Code saves. */
  SaveCrashSafe: 'crashSafeState.saveCrashSafe',
} as const;
export type CommandId = (typeof CommandId)[keyof typeof CommandId];

/** The to-do commands' ids before the rename (0.1.0), still registered so keybindings and scripts keep working. */
export const LEGACY_TODO_COMMAND_IDS: Readonly<Record<string, CommandId>> = {
  'crashSafeState.addTask': CommandId.AddTodo,
  'crashSafeState.editTask': CommandId.EditTodo,
  'crashSafeState.editTaskNotes': CommandId.EditTodoNotes,
  'crashSafeState.toggleTask': CommandId.ToggleTodo,
  'crashSafeState.deleteTask': CommandId.DeleteTodo,
  'crashSafeState.moveTaskUp': CommandId.MoveTodoUp,
  'crashSafeState.moveTaskDown': CommandId.MoveTodoDown,
  'crashSafeState.reloadTasks': CommandId.ReloadTodos,
  'crashSafeState.openTasksFile': CommandId.OpenTodoFile,
  'crashSafeState.recoverTasks': CommandId.RecoverTodos,
};

export const ORPHANS_VIEW_ID = 'crashSafeState.orphans';
export const STATUS_BAR_ID = 'crashSafeState.status';
export const CONFIG_SECTION = 'crashSafeState';
export const TODOS_VIEW_ID = 'crashSafeState.todos';
/** Context key for the To-Dos view's welcome content: `loading`, `ok`, `problem`, `no-folder`, `error`. */
export const TODOS_STATE_CONTEXT_KEY = 'crashSafeState.todosState';
/** Context key: true while the list holds a done to-do (enables "Clear Done To-Dos"). */
export const TODOS_HAVE_DONE_CONTEXT_KEY = 'crashSafeState.todosHaveDone';
/** Context key: true while a removal can be undone. */
export const TODOS_CAN_UNDO_CONTEXT_KEY = 'crashSafeState.todosCanUndo';
/** Context key: the paths of the `.json`/`.jsonc` files open in a plain (`file:`) editor, for the Explorer's Open/Reopen wording. */
export const OPEN_JSON_FILES_CONTEXT_KEY = 'crashSafeState.openJsonFiles';
/** Read-only documents holding a to-do backup's text, for the recovery diff. */
export const TODO_BACKUP_SCHEME = 'crashsafe-todo-backup';
/** Context key: true while the active editor's file is broken (empty, NUL bytes, not valid JSON): Recover From… in its title. */
export const ACTIVE_FILE_BROKEN_CONTEXT_KEY = 'crashSafeState.activeFileBroken';
/** The FileSystemProvider scheme of "Reopen With Crash-Safe Save". */
export const CRASH_SAFE_SCHEME = 'crashsafe';
/** Read-only documents holding a settings snapshot's text, for the restore diff. */
export const SNAPSHOT_SCHEME = 'crashsafe-snapshot';
