import { fsyncsDirectories } from '../fs';

/**
 * `full`: fsync the temp, rename, fsync the directory — survives power loss.
 * `fast`: temp + rename without fsync — survives a process crash only.
 */
export type Durability = 'full' | 'fast';

/** Every durability, in the order the setting and `--durability` list them. */
export const DURABILITIES: readonly Durability[] = ['full', 'fast'];

export const isDurability = (value: unknown): value is Durability => DURABILITIES.includes(value as Durability);

/** The one default, for the setting, the CLI's `--durability` and every write that is given none. */
export const DEFAULT_DURABILITY: Durability = 'full';

/** Whether a write with this durability fsyncs (none given means the default). */
export const isDurable = (durability: Durability | undefined): boolean => (durability ?? DEFAULT_DURABILITY) === 'full';

/** Whether a write with this durability fsyncs folders too: only durable ones, and never on Windows (fs.ts says why). */
export const fsyncsFoldersFor = (durability: Durability | undefined): boolean =>
  isDurable(durability) && fsyncsDirectories();
