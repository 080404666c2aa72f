/** Paths to the shared fixtures (outside the repo, at ../shared). */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED = process.env.REDDIT_STREAM_SHARED ?? path.resolve(REPO_ROOT, '../shared');
export const DELTA_FIXTURES = path.join(SHARED, 'fixtures/delta');

/** Table root of a fixture folder (DAT tables keep theirs under `delta/`). */
export function fixtureTable(folder: string): string {
  return folder.startsWith('dat-') ? path.join(DELTA_FIXTURES, folder, 'delta') : path.join(DELTA_FIXTURES, folder);
}
