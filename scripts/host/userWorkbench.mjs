// The workbench `npm start` serves: code-server with the extension installed from its .vsix, the way a user's VS Code
// loads it, and none of the test tooling (no smoke-test driver, which hides notification toasts; no
// extensionDevelopmentPath; no test variables). scripts/screenshot.mjs and test/workbench/ start it the same way.
import { buildVsix } from '../packageVsix.mjs';
import { startCodeServer } from './codeServer.mjs';

/**
 * User settings of the private profile: the folder opens on its README (or nothing), not on code-server's welcome
 * page, with no Chat side bar or AI onboarding in the way. Application-scoped settings (the onboarding) can only be
 * set here, not in a workspace.
 */
export const USER_SETTINGS = Object.freeze({
  'workbench.startupEditor': 'readme',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'workbench.welcomePage.experimentalOnboarding': false,
  'workbench.tips.enabled': false,
});

/** Variables only the test harness sets; none of them reaches the server `npm start` opens. */
const TEST_VARIABLE = /^(CS_|CRASH_ITERATIONS$|MOCHA_)/;

/** `env` without the test harness's variables. */
export function userEnv(env = process.env) {
  const clean = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && !TEST_VARIABLE.test(key)) clean[key] = value;
  }
  return clean;
}

/** The startCodeServer() options of `npm start`'s workbench, for the given .vsix. */
export function userServerOptions({ paths, vsix, env = process.env, onOutput, displayLanguage }) {
  return {
    paths,
    env: userEnv(env),
    extensions: [vsix],
    userSettings: { ...USER_SETTINGS },
    smokeTestDriver: false,
    // The demo is ours, so workspace trust would only hide Sweep and Recover behind a prompt.
    disableWorkspaceTrust: true,
    ...(onOutput ? { onOutput } : {}),
    ...(displayLanguage ? { displayLanguage } : {}),
  };
}

/** The URL that opens `folder`; the installed extension loads on its own, so there is no development payload. */
export function userWorkbenchUrl(server, folder) {
  return server.workbenchUrl({ folder });
}

/**
 * Starts code-server with the extension installed from `vsix` (built by buildVsix() from ../packageVsix.mjs when
 * not given; `displayLanguage`: e.g. `de`) and returns `{ server, url, timings }`. `server.stop()` ends it. `log` receives progress lines.
 */
export async function startUserWorkbench({
  paths,
  folder,
  vsix,
  env = process.env,
  onOutput,
  displayLanguage,
  log = () => {},
}) {
  const started = Date.now();
  let built;
  if (!vsix) {
    log('Packaging the extension (.vsix)…');
    built = buildVsix();
  }
  const packageMs = Date.now() - started;
  try {
    log('Installing the .vsix into a private code-server profile and starting the server…');
    const server = await startCodeServer(
      userServerOptions({ paths, vsix: vsix ?? built.vsix, env, onOutput, displayLanguage }),
    );
    return {
      server,
      url: userWorkbenchUrl(server, folder),
      timings: { packageMs, serverMs: Date.now() - started - packageMs },
    };
  } finally {
    built?.dispose();
  }
}
