// The real walk worker, which also notes in $CS_WALK_WORKER_LOG each folder it reads (`<threadId> <path>`), so a
// test can see that the listing ran in worker threads (test/unit/walkWorkers.test.ts, which bundles it).
const fs = require('node:fs');
const { threadId } = require('node:worker_threads');

const realReaddirSync = fs.readdirSync;
fs.readdirSync = function notedReaddirSync(path, ...rest) {
  fs.appendFileSync(process.env.CS_WALK_WORKER_LOG, `${threadId} ${path}\n`);
  return realReaddirSync.call(this, path, ...rest);
};
require('../../src/core/orphans/walkWorker.ts');
