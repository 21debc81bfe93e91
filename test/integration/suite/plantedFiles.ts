// Files an in-host test writes into the workspace, with a chosen age, removed again at teardown.
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const MINUTE_MS = 60_000;

export class PlantedFiles {
  private readonly files: string[] = [];

  /** `root` is read at each call: the workspace folder is known only from suiteSetup on. */
  constructor(private readonly root: () => string) {}

  /** Writes `relativePath` under the root, `ageMinutes` old. */
  readonly plant = (relativePath: string, content: string, ageMinutes = 0): string => {
    const file = path.join(this.root(), relativePath);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    const time = new Date(Date.now() - ageMinutes * MINUTE_MS);
    utimesSync(file, time, time);
    this.files.push(file);
    return file;
  };

  /** A file the test caused (a backup, say), removed with the planted ones. */
  track(file: string): void {
    this.files.push(file);
  }

  removeAll(): void {
    for (const file of this.files.splice(0)) rmSync(file, { force: true });
  }
}
