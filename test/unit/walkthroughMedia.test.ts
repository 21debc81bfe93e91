// The walkthrough's pictures exist per language: package.json names each through a `%key%` that every
// package.nls.<language>.json points at its own SVG, and a translated SVG keeps no sentence of the English one.
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const readJson = <T>(file: string): T => JSON.parse(readFileSync(join(root, file), 'utf8')) as T;

interface Step {
  id: string;
  media: { svg?: string };
}
const manifest = readJson<{ contributes: { walkthroughs: { steps: Step[] }[] } }>('package.json');
const steps = manifest.contributes.walkthroughs.flatMap((walkthrough) => walkthrough.steps);
const languages = readdirSync(root)
  .map((name) => /^package\.nls\.([\w-]+)\.json$/.exec(name)?.[1])
  .filter((language): language is string => language !== undefined);

/** The texts a picture shows: its <text>/<tspan> contents and its <title>/<desc>, entities decoded. */
function shownTexts(svg: string): string[] {
  return [...svg.matchAll(/>([^<>]+)</g)]
    .map((match) =>
      match[1]!
        .replace(/&#160;/g, ' ')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .trim(),
    )
    .filter((text) => /[A-Za-z]{2}/.test(text));
}

/** Text with words in it that a translation must change (not file names, ids, JSON or tool names). */
function isProse(text: string): boolean {
  const words = text.replace(/\S*[./"{]\S*/g, ' ');
  return /\b[a-z]{3,}\b\s+\S*\b[a-z]{2,}\b/i.test(words);
}

suite('walkthrough pictures per language', () => {
  test('every step names its picture through a %key%, and each language has its own picture file', () => {
    assert.ok(languages.length > 0);
    const english = readJson<Record<string, string>>('package.nls.json');
    for (const step of steps) {
      const key = /^%([\w.-]+)%$/.exec(step.media.svg ?? '')?.[1];
      assert.ok(key, `step ${step.id}: media.svg is a %key%, not ${step.media.svg}`);
      assert.ok(existsSync(join(root, english[key]!)), `${english[key]} exists`);
      for (const language of languages) {
        const translated = readJson<Record<string, string>>(`package.nls.${language}.json`)[key];
        assert.ok(translated && existsSync(join(root, translated)), `${language}: ${translated} exists`);
        assert.notEqual(translated, english[key], `${language} has a picture of its own for ${step.id}`);
      }
    }
  });

  test('a translated picture keeps no English sentence', () => {
    const english = readJson<Record<string, string>>('package.nls.json');
    for (const language of languages) {
      const nls = readJson<Record<string, string>>(`package.nls.${language}.json`);
      for (const step of steps) {
        const key = /^%([\w.-]+)%$/.exec(step.media.svg ?? '')![1]!;
        const englishTexts = new Set(shownTexts(readFileSync(join(root, english[key]!), 'utf8')).filter(isProse));
        assert.ok(englishTexts.size > 3, `${english[key]} shows prose (self-check)`);
        // A name the language keeps (the view "Crash-Safe To-Dos") is not left-over English.
        const keptNames = new Set(Object.values(nls).map((value) => value.toLowerCase()));
        const left = shownTexts(readFileSync(join(root, nls[key]!), 'utf8')).filter(
          (text) => englishTexts.has(text) && !keptNames.has(text.toLowerCase()),
        );
        assert.deepEqual(left, [], `${nls[key]} still shows English`);
      }
    }
  });
});
