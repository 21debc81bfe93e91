/** VS Code's command line split into value flags (repeatable), switches and positionals. */
export function parseVSCodeArgs(argv: string[]): {
  values: Map<string, string[]>;
  switches: Set<string>;
  positionals: string[];
};
