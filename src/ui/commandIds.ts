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
} as const;
export type CommandId = (typeof CommandId)[keyof typeof CommandId];

export const ORPHANS_VIEW_ID = 'crashSafeState.orphans';
export const STATUS_BAR_ID = 'crashSafeState.status';
export const CONFIG_SECTION = 'crashSafeState';
