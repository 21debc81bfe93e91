// A walk's worker that lists its folders as the real one does, then dies after its first delivery: the walk must
// list the rest itself, missing nothing and delivering nothing twice (test/unit/walkWorkers.test.ts, which bundles it).
const { parentPort, workerData } = require('node:worker_threads');
const { runListingJob } = require('../../src/core/orphans/walkWorkers.ts');

let deliveries = 0;
void runListingJob(workerData, (message) => {
  parentPort.postMessage(message);
  if (message.kind === 'listed' && ++deliveries === 1) process.exit(3);
});
