import { basename } from 'node:path';
import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import { type TodoEdit, updateTodoEdit } from '../../state/todoEdits';
import type { TodosProblem } from '../../state/todoErrors';
import type { Todo } from '../../state/todosSchema';
import { CommandId, TODOS_HAVE_DONE_CONTEXT_KEY, TODOS_STATE_CONTEXT_KEY, TODOS_VIEW_ID } from '../commandIds';
import { displayDateTime } from '../dates';
import { Disposable } from '../dispose';
import { markdownText } from '../markdownText';
import { parseFailureLabel } from '../reasonWords';
import { markWalkthrough, WalkthroughKey } from '../walkthroughProgress';
import type { TodosModel, TodosState } from './todosModel';

/** A row of the To-Dos view: a to-do, or a status row (the problem with the file and what to do about it). */
export type TodoNode = { kind: 'todo'; todo: Todo } | { kind: 'status'; id: string; item: vscode.TreeItem };

/** True for what the view hands a command as its first argument (as opposed to an args object). */
export function isTodoNode(value: unknown): value is Extract<TodoNode, { kind: 'todo' }> {
  return (
    typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'todo' && 'todo' in value
  );
}

const DRAG_MIME = 'application/vnd.code.tree.crashsafestate.todos';

/** How long a command with no row waits for the tree to show the rows it was last given (and a row it selected). */
const SETTLE_TIMEOUT_MS = 3_000;

/** One row as the view shows it, for diagnostics. */
export interface TodoRow {
  label: string;
  description?: string;
  checked?: boolean;
  /** The row's icon (a codicon id), if it has one: to-do rows have none, so the title follows the checkbox. */
  icon?: string;
}

/** The headline of a problem: what is wrong, with the position for a parse error. */
export function describeTodosProblem(problem: TodosProblem): string {
  switch (problem.kind) {
    case 'corrupt':
      return problem.position
        ? vscode.l10n.t({
            message: 'Not valid JSON: {0}',
            args: [parseFailureLabel(problem.position)],
            comment: ['{0} says what is wrong and where, e.g. "the file ends inside a string, line 4, column 16".'],
          })
        : vscode.l10n.t('Not valid JSON');
    case 'empty':
      return vscode.l10n.t('The file is empty');
    case 'invalid':
      return vscode.l10n.t('Does not match the to-do list schema');
    case 'unsupported-version':
      return vscode.l10n.t('Written by a newer Crash-Safe State');
  }
}

/**
 * The Explorer view "Crash-Safe To-Dos": one row per to-do with a checkbox for done (done rows are dimmed),
 * inline edit/delete, move up/down in the context menu and drag-and-drop reordering. An unusable file shows what
 * is wrong (file, line:column) and a "Recover…" row instead of the to-dos.
 */
export class TodosView
  extends Disposable
  implements vscode.TreeDataProvider<TodoNode>, vscode.TreeDragAndDropController<TodoNode>
{
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeTreeData = this.changed.event;
  readonly dragMimeTypes = [DRAG_MIME];
  readonly dropMimeTypes = [DRAG_MIME];
  private readonly view: vscode.TreeView<TodoNode>;
  private lastContextState: string | undefined;
  private lastHaveDone: boolean | undefined;
  /** The problem the user was last told about, so one broken file raises one notification, not one per click. */
  private notifiedProblem: string | undefined;
  /**
   * Set from announcing new rows until VS Code has fetched them: meanwhile its TreeView maps no selected row to a
   * node (it drops its nodes at a refresh and registers them again on the fetch), so `selection` reads empty or stale.
   */
  private rowsInFlight: { arrived: Promise<void>; arrive: () => void } | undefined;
  /** The reveal that selects the row taking a removed one's place, until VS Code has applied it. */
  private selecting: Promise<void> | undefined;

  constructor(
    private readonly model: TodosModel,
    private readonly relative: (path: string) => string,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    this.view = this._register(
      vscode.window.createTreeView(TODOS_VIEW_ID, {
        treeDataProvider: this,
        dragAndDropController: this,
        canSelectMany: true,
      }),
    );
    this._register(this.view.onDidChangeCheckboxState((event) => this.checkboxesChanged(event)));
    this._register(model.onDidChange(() => this.refresh()));
    this.refresh();
  }

  /** The message above the rows (set while the file is unusable: what that means; the rows say what is wrong). */
  get message(): string | undefined {
    return this.view.message;
  }

  /** The selected to-do rows. */
  selection(): Array<Extract<TodoNode, { kind: 'todo' }>> {
    return this.view.selection.filter(isTodoNode);
  }

  /** True while `selection` may be out of date: rows announced but not fetched yet, or a row being selected. */
  get settling(): boolean {
    // A hidden view fetches nothing until shown; its selection is not coming.
    return this.view.visible && (this.rowsInFlight !== undefined || this.selecting !== undefined);
  }

  /** Resolves once the tree shows the rows last announced and any selection this view set (bounded). */
  async settled(): Promise<void> {
    if (!this.settling) return;
    const waits = [this.rowsInFlight?.arrived, this.selecting].filter((wait) => wait !== undefined);
    if (waits.length === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SETTLE_TIMEOUT_MS);
    });
    await Promise.race([Promise.all(waits), timeout]);
    clearTimeout(timer);
  }

  /**
   * After to-dos were removed from the list as shown in `before`, selects and focuses the row that took the first
   * one's place (the last row when it was at the end), so the next Delete or F2 acts on a row the user sees
   * selected, as in the Explorer. Only while the view is visible: a hidden view is not opened for it.
   */
  selectAfterRemoval(before: readonly Todo[], removedIds: readonly string[]): void {
    if (!this.view.visible) return;
    const removed = new Set(removedIds);
    const first = before.findIndex((todo) => removed.has(todo.id));
    if (first < 0) return;
    const next =
      before.slice(first).find((todo) => !removed.has(todo.id)) ??
      before
        .slice(0, first)
        .reverse()
        .find((todo) => !removed.has(todo.id));
    const shown = next && this.model.todos.find((todo) => todo.id === next.id);
    if (!shown) return;
    const selecting = Promise.resolve(
      this.view.reveal({ kind: 'todo', todo: shown }, { select: true, focus: true }),
    ).then(
      () => undefined,
      (error: unknown) => this.log.debug(`Selecting the next to-do failed: ${messageOf(error)}`),
    );
    this.selecting = selecting;
    void selecting.finally(() => {
      if (this.selecting === selecting) this.selecting = undefined;
    });
  }

  /** The rows as shown now. */
  rows(): TodoRow[] {
    return this.nodes().map((node) => {
      const item = this.getTreeItem(node);
      const label = typeof item.label === 'string' ? item.label : (item.label?.label ?? '');
      const row: TodoRow = { label };
      if (typeof item.description === 'string') row.description = item.description;
      if (item.checkboxState !== undefined) {
        const state = typeof item.checkboxState === 'object' ? item.checkboxState.state : item.checkboxState;
        row.checked = state === vscode.TreeItemCheckboxState.Checked;
      }
      if (item.iconPath instanceof vscode.ThemeIcon) row.icon = item.iconPath.id;
      else if (item.iconPath !== undefined || item.resourceUri !== undefined) row.icon = 'file';
      return row;
    });
  }

  /** VS Code fetching the rows: once it has them (next task), `selection` maps to nodes again. */
  getChildren(element?: TodoNode): TodoNode[] {
    if (element) return [];
    const inFlight = this.rowsInFlight;
    if (inFlight) {
      this.rowsInFlight = undefined;
      setTimeout(inFlight.arrive, 0);
    }
    return this.nodes();
  }

  /** Rows are flat: none has a parent (`reveal` needs this). */
  getParent(): undefined {
    return undefined;
  }

  private nodes(): TodoNode[] {
    const state = this.model.state;
    switch (state.kind) {
      case 'ok':
      case 'loading':
        return this.model.todos.map((todo) => ({ kind: 'todo', todo }));
      case 'problem':
        return this.problemRows(state);
      case 'error':
        return [errorRow(state.message)];
      case 'no-folder':
        return [];
    }
  }

  getTreeItem(node: TodoNode): vscode.TreeItem {
    if (node.kind === 'status') return node.item;
    const { todo } = node;
    const item = new vscode.TreeItem(todo.title, vscode.TreeItemCollapsibleState.None);
    item.id = `todo:${todo.id}`;
    item.checkboxState = {
      state: todo.done ? vscode.TreeItemCheckboxState.Checked : vscode.TreeItemCheckboxState.Unchecked,
      tooltip: todo.done ? vscode.l10n.t('Done: click to mark it not done') : vscode.l10n.t('Click to mark it done'),
    };
    // No icon and no resource URI: either one takes an icon's width between the checkbox and the title (a resource
    // URI brings the file icon theme's icon), so a done to-do is told by its checked box alone.
    const firstNoteLine = todo.notes?.split('\n')[0];
    if (firstNoteLine) item.description = firstNoteLine;
    const tooltip = new vscode.MarkdownString();
    const boldTitle = `**${markdownText(todo.title)}**`;
    const heading = todo.done
      ? vscode.l10n.t({
          message: '{0} — done',
          args: [boldTitle],
          comment: ["{0} is the to-do's title (Markdown, in bold)."],
        })
      : boldTitle;
    tooltip.appendMarkdown(`${heading}\n\n`);
    if (todo.notes) {
      tooltip.appendMarkdown(markdownText(todo.notes));
      tooltip.appendMarkdown('\n\n');
    }
    tooltip.appendMarkdown(
      markdownText(
        vscode.l10n.t({
          message: 'id {0} · created {1} · updated {2}',
          args: [todo.id, displayDateTime(todo.createdAt), displayDateTime(todo.updatedAt)],
          comment: ["{0} is the to-do's id; {1} and {2} are dates and times."],
        }),
      ),
    );
    item.tooltip = tooltip;
    item.contextValue = todo.done ? 'todo.done' : 'todo';
    return item;
  }

  handleDrag(source: readonly TodoNode[], dataTransfer: vscode.DataTransfer): void {
    const ids = source.filter(isTodoNode).map((node) => node.todo.id);
    if (ids.length > 0) dataTransfer.set(DRAG_MIME, new vscode.DataTransferItem(ids));
  }

  /** Dropped to-dos go just above the one they are dropped on, in their current order; on empty space, to the end. */
  async handleDrop(target: TodoNode | undefined, dataTransfer: vscode.DataTransfer): Promise<void> {
    const value: unknown = dataTransfer.get(DRAG_MIME)?.value;
    if (!Array.isArray(value)) return;
    const dragged = new Set(value.filter((id): id is string => typeof id === 'string'));
    if (target !== undefined && !isTodoNode(target)) return;
    const beforeId = target === undefined ? null : target.todo.id;
    if (beforeId !== null && dragged.has(beforeId)) return;
    const moves = this.model.todos
      .filter((todo) => dragged.has(todo.id))
      .map((todo): TodoEdit => ({ kind: 'move', id: todo.id, beforeId }));
    try {
      this.model.apply(moves);
    } catch (error) {
      this.report(error);
    }
  }

  /**
   * Tells the user why an edit was refused. For an unusable file that is one notification per problem (further
   * refusals only flash the status bar: the view's message line says it all along); other refusals always show.
   */
  reportRefusal(message: string, state: TodosState): void {
    if (state.kind !== 'problem') {
      void vscode.window.showErrorMessage(message);
      return;
    }
    const key = `${state.problem.path}\n${state.problem.message}`;
    if (this.notifiedProblem === key) {
      const text = vscode.l10n.t({
        message: '$(error) Not saved: {0} is unusable; recover it first',
        args: [basename(state.path)],
        comment: ["{0} is the to-do file's name. Keep $(error): it is an icon."],
      });
      vscode.window.setStatusBarMessage(text, 5000);
      return;
    }
    this.notifiedProblem = key;
    void showTodosProblem(message);
  }

  private problemRows(state: Extract<TodosState, { kind: 'problem' }>): TodoNode[] {
    const { problem } = state;
    const open = { command: CommandId.OpenTodoFile, title: vscode.l10n.t('Open To-Do File') };
    const headline = statusRow('problem', describeTodosProblem(problem), new vscode.ThemeIcon('error'), open);
    headline.item.description = this.relative(problem.path);
    headline.item.tooltip =
      `${problem.message}\n\n${problem.details.join('\n')}\n${vscode.l10n.t('Nothing is written to this file until it is fixed or recovered.')}`.trim();
    headline.item.contextValue = 'todosProblem';
    const recover = statusRow('recover', vscode.l10n.t('Recover…'), new vscode.ThemeIcon('history'), {
      command: CommandId.RecoverTodos,
      title: vscode.l10n.t('Recover To-Do List…'),
    });
    recover.item.description = vscode.l10n.t('from a backup generation or a leftover temp file');
    const rows = [headline, recover];
    const waiting = this.model.unsavedEdits;
    if (waiting > 0) {
      const label =
        waiting === 1 ? vscode.l10n.t('1 unsaved edit waiting') : vscode.l10n.t('{0} unsaved edits waiting', waiting);
      rows.push(statusRow('waiting', label, new vscode.ThemeIcon('clock'), undefined));
      rows.at(-1)!.item.tooltip = vscode.l10n.t('They are saved, in order, once the file is usable again.');
    }
    return rows;
  }

  private refresh(): void {
    const state = this.model.state;
    if (state.kind === 'problem') {
      // The first row says what is wrong (and opens the file there); the message says what that means, once.
      this.view.message = vscode.l10n.t({
        message: 'Nothing is written to {0} until it is fixed or recovered.',
        args: [basename(state.path)],
        comment: ["{0} is the to-do file's name."],
      });
    } else {
      // A read error is the one row the view shows; the message line would repeat it.
      this.view.message = undefined;
    }
    if (state.kind !== 'problem' && this.notifiedProblem !== undefined) {
      this.notifiedProblem = undefined;
      // The error notification cannot be withdrawn; this says it is over, and its buttons re-check (see recoverTodos).
      if (state.kind === 'ok') {
        const text = vscode.l10n.t({
          message: '$(check) {0} is usable again',
          args: [basename(state.path)],
          comment: ["{0} is the to-do file's name. Keep $(check): it is an icon."],
        });
        vscode.window.setStatusBarMessage(text, 8000);
      }
    }
    const todos = this.model.todos;
    const listed = state.kind === 'ok' || state.kind === 'loading';
    if (listed && todos.length > 0) markWalkthrough(WalkthroughKey.HasTodos);
    const done = listed ? todos.filter((todo) => todo.done).length : 0;
    this.view.description =
      listed && todos.length > 0
        ? vscode.l10n.t({
            message: '{0}/{1} done',
            args: [done, todos.length],
            comment: ['{0} to-dos of {1} are done.'],
          })
        : undefined;
    if (this.lastContextState !== state.kind) {
      this.lastContextState = state.kind;
      void vscode.commands.executeCommand('setContext', TODOS_STATE_CONTEXT_KEY, state.kind);
    }
    if (this.lastHaveDone !== done > 0) {
      this.lastHaveDone = done > 0;
      void vscode.commands.executeCommand('setContext', TODOS_HAVE_DONE_CONTEXT_KEY, done > 0);
    }
    this.rowsChanged();
  }

  /** Tells VS Code the rows changed; until it fetches them, `settled()` waits. */
  private rowsChanged(): void {
    if (!this.rowsInFlight) {
      let arrive = () => {};
      const arrived = new Promise<void>((resolve) => {
        arrive = resolve;
      });
      this.rowsInFlight = { arrived, arrive };
    }
    this.changed.fire();
  }

  private checkboxesChanged(event: vscode.TreeCheckboxChangeEvent<TodoNode>): void {
    try {
      const done = (state: vscode.TreeItemCheckboxState) => state === vscode.TreeItemCheckboxState.Checked;
      this.model.apply(
        event.items.flatMap(([node, state]) =>
          isTodoNode(node) ? [updateTodoEdit(node.todo.id, { done: done(state) })] : [],
        ),
      );
    } catch (error) {
      this.report(error);
      // Puts the checkbox back to what the file says.
      this.rowsChanged();
    }
  }

  private report(error: unknown): void {
    const message = messageOf(error);
    this.log.warn(`To-do edit refused: ${message}`);
    this.reportRefusal(message, this.model.state);
  }
}

function errorRow(message: string): Extract<TodoNode, { kind: 'status' }> {
  const row = statusRow('error', message, new vscode.ThemeIcon('error'), undefined);
  row.item.tooltip = message;
  return row;
}

function statusRow(
  id: string,
  label: string,
  icon: vscode.ThemeIcon,
  command: vscode.Command | undefined,
): Extract<TodoNode, { kind: 'status' }> {
  const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
  item.id = `status:${id}`;
  item.iconPath = icon;
  item.command = command;
  item.contextValue = `todosStatus.${id}`;
  return { kind: 'status', id, item };
}

/**
 * The notification for an unusable file. VS Code cannot withdraw it once the file is recovered, so both buttons
 * run commands that look again first: Recover… then says there is nothing left to recover.
 */
async function showTodosProblem(message: string): Promise<void> {
  const recover = vscode.l10n.t('Recover…');
  const openFile = vscode.l10n.t('Open File');
  const choice = await vscode.window.showErrorMessage(message, recover, openFile);
  if (choice === recover) await vscode.commands.executeCommand(CommandId.RecoverTodos);
  if (choice === openFile) await vscode.commands.executeCommand(CommandId.OpenTodoFile);
}
