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
  Reveal: 'crashSafeState.reveal',
  AddTask: 'crashSafeState.addTask',
  EditTask: 'crashSafeState.editTask',
  EditTaskNotes: 'crashSafeState.editTaskNotes',
  ToggleTask: 'crashSafeState.toggleTask',
  DeleteTask: 'crashSafeState.deleteTask',
  MoveTaskUp: 'crashSafeState.moveTaskUp',
  MoveTaskDown: 'crashSafeState.moveTaskDown',
  ReloadTasks: 'crashSafeState.reloadTasks',
  OpenTasksFile: 'crashSafeState.openTasksFile',
  RecoverTasks: 'crashSafeState.recoverTasks',
  TakeSettingsSnapshot: 'crashSafeState.takeSettingsSnapshot',
  RestoreSettingsSnapshot: 'crashSafeState.restoreSettingsSnapshot',
  ReopenWithCrashSafeSave: 'crashSafeState.reopenWithCrashSafeSave',
} as const;
export type CommandId = (typeof CommandId)[keyof typeof CommandId];

export const ORPHANS_VIEW_ID = 'crashSafeState.orphans';
export const STATUS_BAR_ID = 'crashSafeState.status';
export const CONFIG_SECTION = 'crashSafeState';
export const TASKS_VIEW_ID = 'crashSafeState.tasks';
/** Context key for the Tasks view's welcome content: `loading`, `ok`, `problem`, `no-folder`, `error`. */
export const TASKS_STATE_CONTEXT_KEY = 'crashSafeState.tasksState';
/** The FileSystemProvider scheme of "Reopen With Crash-Safe Save". */
export const CRASH_SAFE_SCHEME = 'crashsafe';
/** Read-only documents holding a settings snapshot's text, for the restore diff. */
export const SNAPSHOT_SCHEME = 'crashsafe-snapshot';
