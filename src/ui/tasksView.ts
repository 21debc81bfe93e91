import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { Task } from '../state/tasksSchema';
import type { TasksProblem } from '../state/tasksStore';
import { CommandId, TASKS_STATE_CONTEXT_KEY, TASKS_VIEW_ID } from './commandIds';
import { Disposable } from './dispose';
import type { TasksModel, TasksState } from './tasksModel';

/** A row of the Tasks view: a task, or a status row (the problem with the file and what to do about it). */
export type TaskNode = { kind: 'task'; task: Task } | { kind: 'status'; id: string; item: vscode.TreeItem };

/** True for what the view hands a command as its first argument (as opposed to an args object). */
export function isTaskNode(value: unknown): value is Extract<TaskNode, { kind: 'task' }> {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'task' && 'task' in value;
}

const DRAG_MIME = 'application/vnd.code.tree.crashsafestate.tasks';

/** One row as the view shows it, for diagnostics. */
export interface TaskRow {
  label: string;
  description?: string;
  checked?: boolean;
}

/** The headline of a problem: what is wrong, with the position for a parse error. */
export function describeTasksProblem(problem: TasksProblem): string {
  switch (problem.kind) {
    case 'corrupt':
      return problem.position
        ? `Not valid JSON at line ${problem.position.line}, column ${problem.position.column} (${problem.position.message})`
        : 'Not valid JSON';
    case 'empty':
      return 'The file is empty';
    case 'invalid':
      return 'Does not match the tasks schema';
    case 'unsupported-version':
      return 'Written by a newer Crash-Safe State';
  }
}

/**
 * The Explorer view "Tasks": one row per task with a checkbox for done, inline edit/delete, move up/down in the
 * context menu and drag-and-drop reordering. An unusable file shows what is wrong (file, line:column) and a
 * "Recover…" row instead of the tasks.
 */
export class TasksView extends Disposable implements vscode.TreeDataProvider<TaskNode>, vscode.TreeDragAndDropController<TaskNode> {
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeTreeData = this.changed.event;
  readonly dragMimeTypes = [DRAG_MIME];
  readonly dropMimeTypes = [DRAG_MIME];
  private readonly view: vscode.TreeView<TaskNode>;
  private lastContextState: string | undefined;

  constructor(
    private readonly model: TasksModel,
    private readonly relative: (path: string) => string,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    this.view = this._register(
      vscode.window.createTreeView(TASKS_VIEW_ID, { treeDataProvider: this, dragAndDropController: this, canSelectMany: true }),
    );
    this._register(this.view.onDidChangeCheckboxState((event) => this.checkboxesChanged(event)));
    this._register(model.onDidChange(() => this.refresh()));
    this.refresh();
  }

  /** The message above the rows (set while the file is unusable or cannot be read). */
  get message(): string | undefined {
    return this.view.message;
  }

  /** The selected task rows. */
  selection(): Array<Extract<TaskNode, { kind: 'task' }>> {
    return this.view.selection.filter(isTaskNode);
  }

  /** The rows as shown now. */
  rows(): TaskRow[] {
    return this.getChildren().map((node) => {
      const item = this.getTreeItem(node);
      const label = typeof item.label === 'string' ? item.label : (item.label?.label ?? '');
      const row: TaskRow = { label };
      if (typeof item.description === 'string') row.description = item.description;
      if (item.checkboxState !== undefined) {
        const state = typeof item.checkboxState === 'object' ? item.checkboxState.state : item.checkboxState;
        row.checked = state === vscode.TreeItemCheckboxState.Checked;
      }
      return row;
    });
  }

  getChildren(element?: TaskNode): TaskNode[] {
    if (element) return [];
    const state = this.model.state;
    switch (state.kind) {
      case 'ok':
      case 'loading':
        return this.model.tasks.map((task) => ({ kind: 'task', task }));
      case 'problem':
        return this.problemRows(state);
      case 'error':
        return [statusRow('error', state.message, new vscode.ThemeIcon('error'), undefined)];
      case 'no-folder':
        return [];
    }
  }

  getTreeItem(node: TaskNode): vscode.TreeItem {
    if (node.kind === 'status') return node.item;
    const { task } = node;
    const item = new vscode.TreeItem(task.title, vscode.TreeItemCollapsibleState.None);
    item.id = `task:${task.id}`;
    item.checkboxState = {
      state: task.done ? vscode.TreeItemCheckboxState.Checked : vscode.TreeItemCheckboxState.Unchecked,
      tooltip: task.done ? 'Mark as not done' : 'Mark as done',
    };
    const firstNoteLine = task.notes?.split('\n')[0];
    if (firstNoteLine) item.description = firstNoteLine;
    const tooltip = new vscode.MarkdownString();
    tooltip.appendMarkdown('**');
    tooltip.appendText(task.title);
    tooltip.appendMarkdown(`**${task.done ? ' — done' : ''}\n\n`);
    if (task.notes) {
      tooltip.appendText(task.notes);
      tooltip.appendMarkdown('\n\n');
    }
    tooltip.appendText(`id ${task.id} · created ${new Date(task.createdAt).toLocaleString()} · updated ${new Date(task.updatedAt).toLocaleString()}`);
    item.tooltip = tooltip;
    item.contextValue = task.done ? 'task.done' : 'task';
    return item;
  }

  handleDrag(source: readonly TaskNode[], dataTransfer: vscode.DataTransfer): void {
    const ids = source.filter(isTaskNode).map((node) => node.task.id);
    if (ids.length > 0) dataTransfer.set(DRAG_MIME, new vscode.DataTransferItem(ids));
  }

  /** Dropped tasks go just above the task they are dropped on, in their current order; on empty space, to the end. */
  async handleDrop(target: TaskNode | undefined, dataTransfer: vscode.DataTransfer): Promise<void> {
    const value: unknown = dataTransfer.get(DRAG_MIME)?.value;
    if (!Array.isArray(value)) return;
    const dragged = new Set(value.filter((id): id is string => typeof id === 'string'));
    if (target !== undefined && !isTaskNode(target)) return;
    const beforeId = target === undefined ? null : target.task.id;
    if (beforeId !== null && dragged.has(beforeId)) return;
    try {
      for (const task of this.model.tasks.filter((candidate) => dragged.has(candidate.id))) this.model.move(task.id, beforeId);
    } catch (error) {
      this.report(error);
    }
  }

  private problemRows(state: Extract<TasksState, { kind: 'problem' }>): TaskNode[] {
    const { problem } = state;
    const open = { command: CommandId.OpenTasksFile, title: 'Open Tasks File' };
    const headline = statusRow('problem', describeTasksProblem(problem), new vscode.ThemeIcon('error'), open);
    headline.item.description = this.relative(problem.path);
    headline.item.tooltip = `${problem.message}\n\n${problem.details.join('\n')}\nNothing is written to this file until it is fixed or recovered.`.trim();
    headline.item.contextValue = 'tasksProblem';
    const recover = statusRow('recover', 'Recover…', new vscode.ThemeIcon('history'), {
      command: CommandId.RecoverTasks,
      title: 'Recover Task List…',
    });
    recover.item.description = 'from a backup generation or a leftover temp file';
    const rows = [headline, recover];
    const waiting = this.model.unsavedEdits;
    if (waiting > 0) {
      rows.push(statusRow('waiting', `${waiting} unsaved edit${waiting === 1 ? '' : 's'} waiting`, new vscode.ThemeIcon('clock'), undefined));
      rows.at(-1)!.item.tooltip = 'They are saved, in order, once the file is usable again.';
    }
    return rows;
  }

  private refresh(): void {
    const state = this.model.state;
    if (state.kind === 'problem') {
      this.view.message = `${basename(state.path)}: ${describeTasksProblem(state.problem)}. Nothing is written to it until it is fixed or recovered.`;
    } else if (state.kind === 'error') {
      this.view.message = state.message;
    } else {
      this.view.message = undefined;
    }
    const tasks = this.model.tasks;
    this.view.description =
      (state.kind === 'ok' || state.kind === 'loading') && tasks.length > 0 ? `${tasks.filter((task) => task.done).length}/${tasks.length} done` : undefined;
    if (this.lastContextState !== state.kind) {
      this.lastContextState = state.kind;
      void vscode.commands.executeCommand('setContext', TASKS_STATE_CONTEXT_KEY, state.kind);
    }
    this.changed.fire();
  }

  private checkboxesChanged(event: vscode.TreeCheckboxChangeEvent<TaskNode>): void {
    try {
      for (const [node, state] of event.items) {
        if (isTaskNode(node)) this.model.update(node.task.id, { done: state === vscode.TreeItemCheckboxState.Checked });
      }
    } catch (error) {
      this.report(error);
      // Puts the checkbox back to what the file says.
      this.changed.fire();
    }
  }

  private report(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.log.warn(`Task edit refused: ${message}`);
    void showTasksError(message, this.model.state);
  }
}

function statusRow(id: string, label: string, icon: vscode.ThemeIcon, command: vscode.Command | undefined): Extract<TaskNode, { kind: 'status' }> {
  const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
  item.id = `status:${id}`;
  item.iconPath = icon;
  item.command = command;
  item.contextValue = `tasksStatus.${id}`;
  return { kind: 'status', id, item };
}

/** Shows why an edit was refused, offering "Recover…" when the file is unusable. */
export async function showTasksError(message: string, state: TasksState): Promise<void> {
  if (state.kind !== 'problem') {
    void vscode.window.showErrorMessage(message);
    return;
  }
  const choice = await vscode.window.showErrorMessage(message, 'Recover…', 'Open File');
  if (choice === 'Recover…') await vscode.commands.executeCommand(CommandId.RecoverTasks);
  if (choice === 'Open File') await vscode.commands.executeCommand(CommandId.OpenTasksFile);
}
