// Environment for npm and node processes that the host scripts start.

/**
 * `env` without the variables an enclosing `npm run`/`npm test` exports (`npm_config_*`, `npm_*`, `INIT_CWD`).
 * A nested `npm install` reads them as its own configuration: code-server's postinstall, for one, takes the Node
 * version from the outer npm's `npm_config_user_agent` and refuses Node 20 although Node 24 is first on PATH.
 */
export function withoutNpmVariables(env = process.env) {
  const clean = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || /^npm_/i.test(key) || key === 'INIT_CWD') continue;
    clean[key] = value;
  }
  return clean;
}
