import type * as vscode from 'vscode';
import { flushAllJsonWriters } from './core/coalescingWriter';

export function activate(_context: vscode.ExtensionContext): void {}

/** Waits for every pending state write, so closing the window never drops the last edit. */
export function deactivate(): Promise<void> {
  return flushAllJsonWriters();
}
