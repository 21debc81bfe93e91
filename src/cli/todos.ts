import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { addTodoEdit, type TodoEdit, updateTodoEdit } from '../state/todoEdits';
import { InvalidTodoError, TodosDocumentError } from '../state/todoErrors';
import { recoverTodos, type TodosRecoveryCandidate, todosRecoveryCandidates } from '../state/todosRecovery';
import type { Todo } from '../state/todosSchema';
import { DEFAULT_TODOS_RELATIVE_PATH, TodosStore } from '../state/todosStore';
import { type CliIo, describeError, EXIT_FAILURE, EXIT_OK, printJson, UsageError, type Verb } from './io';
import { DURABILITY_OPTION, parseDurability } from './options';

const USAGE =
  'crash-safe todos add TITLE [--notes TEXT] | list | done ID [--undo] | remove ID | recover [CANDIDATE] [--force]\n' +
  '      [--dir WORKSPACE] [--file PATH] [--json] [--durability full|fast]';

function describeTodo(todo: Todo): string {
  const notes = todo.notes ? `  — ${todo.notes.split('\n')[0]}` : '';
  return `[${todo.done ? 'x' : ' '}] ${todo.id}  ${todo.title}${notes}`;
}

function describeCandidate(candidate: TodosRecoveryCandidate): string {
  const what =
    candidate.problem === undefined
      ? `${candidate.todoCount} to-do${candidate.todoCount === 1 ? '' : 's'}`
      : `unusable: ${candidate.problem}`;
  return `${candidate.id}  (${candidate.kind}, ${candidate.modifiedAt}, ${what})`;
}

/** The explanation printed with a corrupt or invalid document: what was refused and how to get the data back. */
async function reportUnusableDocument(
  io: CliIo,
  store: TodosStore,
  error: TodosDocumentError,
  dirArgs: string,
  verb: string,
): Promise<void> {
  io.stderr.write(`crash-safe ${verb}: ${error.message}\n`);
  const candidates = await todosRecoveryCandidates(store).catch(() => []);
  const usable = candidates.filter((candidate) => candidate.problem === undefined);
  if (usable.length === 0) {
    io.stderr.write('No backup generation or temp file holds a usable to-do list; fix the file by hand.\n');
    return;
  }
  io.stderr.write(`Recovery: \`crash-safe ${verb} recover${dirArgs}\` restores ${describeCandidate(usable[0]!)}.\n`);
  io.stderr.write(`Other candidates: \`crash-safe ${verb} recover${dirArgs} --list\`.\n`);
}

/** Applies one edit through the same path as the To-Dos view; resolves with the to-do as saved. */
async function applyOne(store: TodosStore, edit: TodoEdit): Promise<Todo | undefined> {
  const [todo] = await store.apply([edit]);
  return todo;
}

function expectArgs(positionals: string[], count: number, what: string): void {
  if (positionals.length !== count) throw new UsageError(what);
}

export const todosVerb: Verb = {
  usage: USAGE,
  summary: 'Add, list, complete and remove workspace to-dos (.vscode/crash-safe/tasks.json), safely across processes.',
  async run(args: string[], io: CliIo, verb = 'todos'): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        dir: { type: 'string' },
        file: { type: 'string' },
        json: { type: 'boolean', default: false },
        notes: { type: 'string' },
        undo: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        list: { type: 'boolean', default: false },
        durability: DURABILITY_OPTION,
      },
    });
    const [action, ...rest] = positionals;
    if (!action) throw new UsageError(`${verb} needs an action: add, list, done, remove or recover`);
    const workspace = resolve(io.cwd, values.dir ?? '.');
    const path = values.file ? resolve(io.cwd, values.file) : resolve(workspace, DEFAULT_TODOS_RELATIVE_PATH);
    // One invocation, one store: its warnings go to this invocation's stderr.
    const store = new TodosStore(path, {
      durability: parseDurability(values.durability),
      onWarning: (message) => io.stderr.write(`crash-safe ${verb}: warning: ${message}\n`),
    });
    const dirArgs = values.file
      ? ` --file ${JSON.stringify(path)}`
      : values.dir
        ? ` --dir ${JSON.stringify(workspace)}`
        : '';

    try {
      switch (action) {
        case 'add': {
          if (rest.length === 0) throw new UsageError(`${verb} add needs a TITLE`);
          let edit: TodoEdit;
          try {
            edit = addTodoEdit(rest.join(' '), { notes: values.notes });
          } catch (error) {
            if (error instanceof InvalidTodoError) throw new UsageError('the to-do title is empty');
            throw error;
          }
          const todo = (await applyOne(store, edit))!;
          if (values.json) printJson(io, todo);
          else io.stdout.write(`Added ${todo.id}: ${todo.title}\n`);
          return EXIT_OK;
        }
        case 'list': {
          expectArgs(rest, 0, `${verb} list takes no arguments`);
          const todos = await store.list();
          if (values.json) printJson(io, todos);
          else if (todos.length === 0) io.stdout.write(`No to-dos in ${path}\n`);
          else for (const todo of todos) io.stdout.write(`${describeTodo(todo)}\n`);
          return EXIT_OK;
        }
        case 'done': {
          expectArgs(rest, 1, `${verb} done takes exactly one ID`);
          const found = await store.find(rest[0]!);
          const todo = (await applyOne(store, updateTodoEdit(found.id, { done: !values.undo })))!;
          if (values.json) printJson(io, todo);
          else io.stdout.write(`${describeTodo(todo)}\n`);
          return EXIT_OK;
        }
        case 'remove': {
          expectArgs(rest, 1, `${verb} remove takes exactly one ID`);
          const found = await store.find(rest[0]!);
          // Undefined when another writer removed it meanwhile: gone either way.
          const todo = (await applyOne(store, { kind: 'remove', id: found.id })) ?? found;
          if (values.json) printJson(io, todo);
          else io.stdout.write(`Removed ${todo.id}: ${todo.title}\n`);
          return EXIT_OK;
        }
        case 'recover': {
          if (rest.length > 1) throw new UsageError(`${verb} recover takes at most one CANDIDATE`);
          if (values.list) {
            const candidates = await todosRecoveryCandidates(store);
            if (values.json) printJson(io, candidates);
            else if (candidates.length === 0) io.stdout.write(`No backups or temp files for ${path}\n`);
            else for (const candidate of candidates) io.stdout.write(`${describeCandidate(candidate)}\n`);
            return EXIT_OK;
          }
          const result = await recoverTodos(store, rest[0], { force: values.force });
          if (values.json) printJson(io, result);
          else {
            io.stdout.write(`Restored ${path} from ${describeCandidate(result.restoredFrom)}\n`);
            if (result.preservedAs) io.stdout.write(`The unusable file was kept as ${result.preservedAs}\n`);
          }
          return EXIT_OK;
        }
        default:
          throw new UsageError(`unknown ${verb} action "${action}"`);
      }
    } catch (error) {
      if (error instanceof TodosDocumentError) {
        await reportUnusableDocument(io, store, error, dirArgs, verb);
        return EXIT_FAILURE;
      }
      if (error instanceof UsageError) throw error;
      // A read error on an open file carries no path; the document this invocation works on is the one to name.
      io.stderr.write(`crash-safe ${verb}: ${describeError(error, path)}\n`);
      return EXIT_FAILURE;
    }
  },
};
