// Preloaded (`node --import`) into code-server by startCodeServer(): when the process that started the server is
// gone (even killed by SIGKILL, which runs no handler of its own), this ends the server's whole process group and
// removes its private profile, so no server or extension host lingers. It acts only in the process that got
// CS_HOST_PARENT_PID (the group leader); the processes code-server forks inherit the preload but not the variable.
import { spawn } from 'node:child_process';

const parentPid = Number(process.env.CS_HOST_PARENT_PID);
const profileDir = process.env.CS_HOST_PROFILE_DIR ?? '';
delete process.env.CS_HOST_PARENT_PID;
delete process.env.CS_HOST_PROFILE_DIR;

/**
 * Runs in a detached process of its own (code-server's wrapper drops every listener of this one once it starts
 * to exit): waits up to 5 s for the group to stop after SIGTERM, kills what is left, then removes the profile.
 */
const CLEANUP = `
const pgid = Number(process.argv[1]);
const dir = process.argv[2];
const alive = () => { try { process.kill(-pgid, 0); return true; } catch { return false; } };
const deadline = Date.now() + 5000;
const tick = () => {
  if (alive() && Date.now() < deadline) return setTimeout(tick, 100);
  try { process.kill(-pgid, 'SIGKILL'); } catch {}
  setTimeout(() => { if (dir) require('node:fs').rmSync(dir, { recursive: true, force: true, maxRetries: 5 }); }, 200);
};
tick();
`;

if (Number.isInteger(parentPid) && parentPid > 0) {
  const orphaned = () => process.ppid !== parentPid;
  let cleaning = false;
  const cleanUp = () => {
    if (cleaning) return;
    cleaning = true;
    spawn(process.execPath, ['-e', CLEANUP, String(process.pid), profileDir], {
      detached: true,
      stdio: 'ignore',
    }).unref();
    try {
      process.kill(-process.pid, 'SIGTERM');
    } catch {
      // The group is gone already.
    }
  };
  const timer = setInterval(() => {
    if (orphaned()) cleanUp();
  }, 1000);
  timer.unref();
  // The server may notice first (a write to the dead parent's pipe makes it exit).
  process.on('exit', () => {
    if (orphaned()) cleanUp();
  });
}
