import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { Orphan } from '../../core/orphans/orphans';
import { describeOrphan, needsRecovery, stateLabel } from '../orphans/format';
import type { OrphanModel } from '../orphans/orphanModel';

/** `crashSafeState.explorer.decorations`, read where it is used so no other settings code has to know it. */

export interface OrphanDecorationsDeps {
  /** Only the public surface: the model may scan incrementally. */
  model: Pick<OrphanModel, 'orphans' | 'onDidChange'>;
  /** The setting `explorer.decorations`, read by the settings module. */
  enabled: () => boolean;
}

/** Explorer badges: orphans muted, broken targets a valid temp can restore in the warning colour (up their folders). */
export class OrphanDecorations implements vscode.FileDecorationProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri[] | undefined>();
  readonly onDidChangeFileDecorations = this.changed.event;
  /** Decorations by fsPath, so a rescan can tell which files changed. */
  private byPath = new Map<string, vscode.FileDecoration>();

  constructor(private readonly enabled: () => boolean) {}

  update(orphans: readonly Orphan[]): void {
    const next = new Map<string, vscode.FileDecoration>();
    for (const orphan of orphans) {
      next.set(orphan.path, {
        badge: '~',
        color: new vscode.ThemeColor('gitDecoration.ignoredResourceForeground'),
        tooltip: vscode.l10n.t({
          message: 'Orphaned temp file of {0} ({1})',
          args: [basename(orphan.target), describeOrphan(orphan)],
          comment: [
            '{0} is the file the temp belongs to, {1} the tool and age (e.g. "write-file-atomic (npm), 5 min old").',
          ],
        }),
      });
    }
    // After the orphans: a file that is both keeps the louder mark.
    for (const orphan of orphans.filter(needsRecovery)) {
      next.set(orphan.target, {
        badge: '!',
        color: new vscode.ThemeColor('list.warningForeground'),
        tooltip: vscode.l10n.t({
          message: '{0} is {1}; a valid temp can restore it',
          args: [basename(orphan.target), stateLabel(orphan.targetState)],
          comment: ['{0} is a file, {1} its state (missing, empty, corrupt).'],
        }),
        // A collapsed folder shows that something inside needs attention.
        propagate: true,
      });
    }
    const touched = [...new Set([...this.byPath.keys(), ...next.keys()])].filter(
      (path) => !sameDecoration(this.byPath.get(path), next.get(path)),
    );
    this.byPath = next;
    if (touched.length > 0) this.changed.fire(touched.map((path) => vscode.Uri.file(path)));
  }

  /** Everything again, as after the setting was switched. */
  refreshAll(): void {
    this.changed.fire(undefined);
  }

  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== 'file' || !this.enabled()) return undefined;
    return this.byPath.get(uri.fsPath);
  }

  dispose(): void {
    this.changed.dispose();
  }
}

function sameDecoration(a: vscode.FileDecoration | undefined, b: vscode.FileDecoration | undefined): boolean {
  return (
    a?.badge === b?.badge && a?.tooltip === b?.tooltip && a?.color?.id === b?.color?.id && a?.propagate === b?.propagate
  );
}

/** Registers the Explorer decorations and keeps them in step with the orphan model and the setting. */
/** Registers the provider; call the returned refresh when the settings change. */
export function registerOrphanDecorations(context: vscode.ExtensionContext, deps: OrphanDecorationsDeps): () => void {
  const decorations = new OrphanDecorations(deps.enabled);
  context.subscriptions.push(decorations);
  context.subscriptions.push(vscode.window.registerFileDecorationProvider(decorations));
  context.subscriptions.push(deps.model.onDidChange((orphans) => decorations.update(orphans)));
  decorations.update(deps.model.orphans);
  return () => decorations.refreshAll();
}
