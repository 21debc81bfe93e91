// The entry of a walk's worker thread (bundled as dist/walkWorker.js): lists the folders it is given, see walkWorkers.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { type ListingJob, runListingJob } from './walkWorkers';

const port = parentPort;
if (port) void runListingJob(workerData as ListingJob, (message) => port.postMessage(message));
