import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CrashSafeStateApi } from '../../../src/ui/api';

/** The context keys src/ui/walkthroughProgress.ts sets, spelled out so a renamed key fails here. */
const WalkthroughKey = {
  OrphansViewSeen: 'crashSafeState.walkthrough.orphansViewSeen',
  Recovered: 'crashSafeState.walkthrough.recovered',
  Swept: 'crashSafeState.walkthrough.swept',
  HasTodos: 'crashSafeState.walkthrough.hasTodos',
  SnapshotTaken: 'crashSafeState.walkthrough.snapshotTaken',
} as const;

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';

interface WalkthroughStep {
  id: string;
  title: string;
  description: string;
  media: { svg?: string; image?: string | Record<string, string>; markdown?: string; altText?: string };
  completionEvents?: string[];
}
interface Walkthrough {
  id: string;
  title: string;
  description: string;
  steps: WalkthroughStep[];
}
interface Manifest {
  engines: { vscode: string };
  devDependencies: Record<string, string>;
  contributes: {
    walkthroughs: Walkthrough[];
    commands: { command: string }[];
    views: Record<string, { id: string }[]>;
  };
}

/** The command ids of every `[label](command:id)` link in a walkthrough text (arguments and `toSide:` dropped). */
function commandLinks(text: string): string[] {
  return [...text.matchAll(/\]\(command:(?:toSide:)?([^)?\s]+)/g)].map((match) => match[1]!);
}

suite('walkthrough (contributes.walkthroughs) and engine range (engines.vscode)', () => {
  let extension: vscode.Extension<unknown>;
  let manifest: Manifest;
  let registered: Set<string>;

  suiteSetup(async () => {
    extension = vscode.extensions.getExtension(EXTENSION_ID)!;
    assert.ok(extension, `${EXTENSION_ID} is not among the host's extensions`);
    await extension.activate();
    manifest = extension.packageJSON as Manifest;
    registered = new Set(await vscode.commands.getCommands(true));
  });

  test('one walkthrough of 3–4 steps, each with an action, a completion event and an image', () => {
    const walkthroughs = manifest.contributes.walkthroughs;
    assert.equal(walkthroughs.length, 1);
    const [walkthrough] = walkthroughs;
    assert.ok(walkthrough!.steps.length >= 3 && walkthrough!.steps.length <= 4, `${walkthrough!.steps.length} steps`);
    for (const step of walkthrough!.steps) {
      assert.ok(commandLinks(step.description).length > 0, `step ${step.id} has no command link`);
      assert.ok((step.completionEvents ?? []).length > 0, `step ${step.id} has no completion event`);
      assert.ok(step.media.svg ?? step.media.image, `step ${step.id} has no image`);
      assert.ok(step.media.altText, `step ${step.id} has no altText`);
    }
  });

  test('every command link names a command the extension contributes and has registered', () => {
    const contributed = new Set(manifest.contributes.commands.map(({ command }) => command));
    const links = manifest.contributes.walkthroughs.flatMap((walkthrough) => [
      ...commandLinks(walkthrough.description),
      ...walkthrough.steps.flatMap((step) => commandLinks(step.description)),
    ]);
    assert.ok(links.length >= 4, `only ${links.length} command links`);
    for (const id of links) {
      assert.ok(contributed.has(id), `${id} is linked but not in contributes.commands`);
      assert.ok(registered.has(id), `${id} is linked but not registered`);
    }
  });

  test('every completion event is onCommand of a registered command, onView of a contributed view or onContext of a key the extension sets', () => {
    const views = new Set(Object.values(manifest.contributes.views).flatMap((list) => list.map(({ id }) => id)));
    const keys = new Set<string>(Object.values(WalkthroughKey));
    for (const step of manifest.contributes.walkthroughs.flatMap((walkthrough) => walkthrough.steps)) {
      for (const event of step.completionEvents ?? []) {
        const [, kind, id] = /^(onCommand|onView|onContext):(.+)$/.exec(event) ?? [];
        assert.ok(kind && id, `step ${step.id}: unexpected completion event ${event}`);
        if (kind === 'onCommand') assert.ok(registered.has(id), `step ${step.id}: ${id} is not a registered command`);
        else if (kind === 'onView') assert.ok(views.has(id), `step ${step.id}: ${id} is not a contributed view`);
        else assert.ok(keys.has(id), `step ${step.id}: ${id} is not a context key the extension sets`);
      }
    }
  });

  test('each step is also ticked by what the user did elsewhere: a context key the extension sets when it happened', async function () {
    this.timeout(30_000);
    const exported = extension.exports as CrashSafeStateApi;
    const marks = () => exported.diagnostics.walkthrough();
    const contextEvents = (id: string) =>
      manifest.contributes.walkthroughs[0]!.steps.find((step) => step.id === id)!.completionEvents ?? [];
    const expected: Record<string, string[]> = {
      orphans: [WalkthroughKey.OrphansViewSeen],
      recover: [WalkthroughKey.Recovered],
      sweep: [WalkthroughKey.Swept],
      todos: [WalkthroughKey.HasTodos, WalkthroughKey.SnapshotTaken],
    };
    for (const [step, keys] of Object.entries(expected)) {
      for (const key of keys) assert.ok(contextEvents(step).includes(`onContext:${key}`), `step ${step}: no ${key}`);
    }
    // The Orphans view shown (it may have been visible from the start: onView alone misses that).
    await vscode.commands.executeCommand('crashSafeState.orphans.focus');
    // A to-do in the list, however it got there.
    await vscode.commands.executeCommand('crashSafeState.addTodo', { title: 'walkthrough' });
    // A snapshot taken on purpose (the automatic start-up one does not count).
    await vscode.commands.executeCommand('crashSafeState.takeSettingsSnapshot');
    const deadline = Date.now() + 10_000;
    const wanted = [WalkthroughKey.OrphansViewSeen, WalkthroughKey.HasTodos, WalkthroughKey.SnapshotTaken];
    while (!wanted.every((key) => marks().includes(key))) {
      if (Date.now() > deadline) assert.fail(`set so far: ${marks().join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  test('every image ships, and follows the theme without styles the walkthrough webview blocks', () => {
    for (const step of manifest.contributes.walkthroughs.flatMap((walkthrough) => walkthrough.steps)) {
      const svg = step.media.svg;
      assert.ok(svg, `step ${step.id}: expected a theme-aware SVG`);
      const text = readFileSync(path.join(extension.extensionPath, svg), 'utf8');
      assert.match(text, /var\(--vscode-[\w-]+/, `${svg} uses no theme colour`);
      // The webview's Content-Security-Policy only admits its own nonce'd styles: an SVG's <style> element or
      // style="" attribute would be dropped, and a script never runs.
      assert.doesNotMatch(text, /<style|\sstyle=|<script/i, `${svg} relies on styles or scripts the webview blocks`);
    }
  });

  test('the engine typecheck pins @types/vscode to the oldest release engines.vscode admits, and vsce accepts @types/vscode', () => {
    const engine = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(manifest.engines.vscode);
    assert.ok(engine, `engines.vscode ${manifest.engines.vscode} is not a caret range`);
    const minimum = engine.slice(1).join('.');
    assert.equal(manifest.devDependencies['@types/vscode-engine'], `npm:@types/vscode@${minimum}`);
    // Node's types are those of that release's Node: 1.82-1.89 run extensions on Node 18 (Electron 25-28), 1.90 on
    // Node 20. A newer Node than the engine's let structuredClone through while engines.vscode still admitted 1.80.
    const engineNode = Number(engine[1]) === 1 && Number(engine[2]) < 90 ? 18 : 20;
    assert.ok(
      Number(engine[1]) === 1 && Number(engine[2]) >= 82,
      'below 1.82 the host runs Node 16: no structuredClone',
    );
    assert.match(manifest.devDependencies['@types/node-engine'] ?? '', new RegExp(`^npm:@types/node@${engineNode}\\.`));
    // vsce package refuses an @types/vscode newer than engines.vscode.
    const [major, minor] = (/(\d+)\.(\d+)/.exec(manifest.devDependencies['@types/vscode']!) ?? []).slice(1).map(Number);
    assert.ok(
      major! < Number(engine[1]) || (major === Number(engine[1]) && minor! <= Number(engine[2])),
      '@types/vscode is newer than engines.vscode',
    );
    // And the host these tests run in is inside the range.
    const [hostMajor, hostMinor] = vscode.version.split('.').map(Number);
    assert.ok(
      hostMajor! > Number(engine[1]) || (hostMajor === Number(engine[1]) && hostMinor! >= Number(engine[2])),
      `host ${vscode.version}`,
    );
  });
});
