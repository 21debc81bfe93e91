// The walk's worker entry for plain-Node tests: the worker thread gets its own TypeScript loader (tsx), as the
// extension's build gets dist/walkWorker.js.
require('tsx/cjs');
require('../../src/core/orphans/walkWorker.ts');
