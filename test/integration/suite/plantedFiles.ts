// Files an in-host test writes into the workspace, with a chosen age, removed again at teardown.
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { writeAgedFile } from '../../support/agedFiles';

const MINUTE_MS = 60_000;

export class PlantedFiles {
  private readonly files: string[] = [];

  /** `root` is read at each call: the workspace folder is known only from suiteSetup on. */
  constructor(private readonly root: () => string) {}

  /** Writes `relativePath` under the root, `ageMinutes` old. */
  readonly plant = (relativePath: string, content: string, ageMinutes = 0): string => {
    const file = writeAgedFile(path.join(this.root(), relativePath), content, ageMinutes * MINUTE_MS);
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
