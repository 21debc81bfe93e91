// Members that every VS Code that engines.vscode admits (1.82 on) has at run time, but that @types/vscode only
// declares from a later release. Only such members belong here: a member that is really newer than the engine must
// not be declared, or the engine typecheck (tsconfig.engine.json) stops catching its use.

declare module 'vscode' {
  interface ThemeColor {
    /**
     * The colour's id. The extension host's ThemeColor has always stored it (`this.id = id`); @types/vscode declares
     * it from 1.95 on. Read by the views' test rows and the orphan decorations.
     */
    readonly id: string;
  }
}
