import { setTimeout as delay } from 'node:timers/promises';
import * as vscode from 'vscode';
import { ToastPacer } from './toastPacer';

export { OURS_PER_WINDOW, PACE_WINDOW_MS } from './toastPacer';

/** A progress notification opens only for work still running after this long; quick work shows no progress toast. */
export const PROGRESS_NOTIFICATION_DELAY_MS = 1_000;
/** The workbench keeps a progress notification open at least this long after it opened. */
const PROGRESS_MIN_OPEN_MS = 800;

const pacer = new ToastPacer();

/** `showInformationMessage`, paced: the result of an action the user just took always gets its toast. */
export async function showResult<T extends string>(message: string, ...actions: T[]): Promise<T | undefined> {
  await pacer.slot();
  return vscode.window.showInformationMessage(message, ...actions);
}

/** `showWarningMessage`, paced (a result that names a failure). */
export async function showResultWarning<T extends string>(message: string, ...actions: T[]): Promise<T | undefined> {
  await pacer.slot();
  return vscode.window.showWarningMessage(message, ...actions);
}

/** `showErrorMessage`, paced. */
export async function showResultError<T extends string>(message: string, ...actions: T[]): Promise<T | undefined> {
  await pacer.slot();
  return vscode.window.showErrorMessage(message, ...actions);
}

type Report = { message?: string; increment?: number };

/**
 * Runs `task` with a spinner in the status bar and, only when it is still running after
 * PROGRESS_NOTIFICATION_DELAY_MS, a (paced) progress notification with `title`, cancellable when asked. Resolves
 * once that notification has closed again, so the result the caller shows next is not a toast beside a progress
 * toast. Quick work thus ends in one toast: its result.
 */
export async function withProgressNotification<T>(
  options: { title: string; cancellable?: boolean },
  task: (progress: vscode.Progress<Report>, token: vscode.CancellationToken) => Promise<T>,
): Promise<T> {
  const cancel = new vscode.CancellationTokenSource();
  let latest: Report = {};
  let worked = 0;
  let forward: ((report: Report) => void) | undefined;
  const progress: vscode.Progress<Report> = {
    report: (report) => {
      latest = { ...latest, ...report };
      worked += report.increment ?? 0;
      forward?.(report);
    },
  };
  let done = false;
  const running = task(progress, cancel.token).finally(() => {
    done = true;
  });
  let openedAt: number | undefined;
  const notification = (async () => {
    await Promise.race([delay(PROGRESS_NOTIFICATION_DELAY_MS), running.catch(() => undefined)]);
    if (done) return;
    await pacer.slot();
    if (done) return;
    openedAt = Date.now();
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: options.title, cancellable: options.cancellable },
      (shown, token) => {
        token.onCancellationRequested(() => cancel.cancel());
        shown.report({ message: latest.message, increment: worked });
        forward = (report) => shown.report(report);
        return running.then(
          () => undefined,
          () => undefined,
        );
      },
    );
  })();
  try {
    return await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: options.title },
      () => running,
    );
  } finally {
    await notification;
    if (openedAt !== undefined) await delay(Math.max(0, openedAt + PROGRESS_MIN_OPEN_MS - Date.now()));
    cancel.dispose();
  }
}
