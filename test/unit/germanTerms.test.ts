// One spelling per term in German. code-server's view headers capitalise every word (CSS text-transform), so the
// view "Verwaiste temporäre Dateien" read "Verwaiste Temporäre Dateien" while the commands said "temporäre". The
// term is the compound "Temporärdatei(en)", the same in a header, a command, a message and a walkthrough picture.
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const readJson = (file: string): Record<string, string> => JSON.parse(readFileSync(join(root, file), 'utf8'));

/** Every German text: the manifest, the code's bundle, and the text of the German walkthrough pictures. */
function germanTexts(): { where: string; text: string }[] {
  const texts: { where: string; text: string }[] = [];
  for (const file of ['package.nls.de.json', 'l10n/bundle.l10n.de.json']) {
    for (const [key, text] of Object.entries(readJson(file))) texts.push({ where: `${file} ${key}`, text });
  }
  const pictures = join(root, 'media', 'walkthrough', 'de');
  for (const name of readdirSync(pictures).filter((file) => file.endsWith('.svg'))) {
    const svg = readFileSync(join(pictures, name), 'utf8');
    for (const [, text] of svg.matchAll(/<(?:text|tspan|title)\b[^>]*>([^<]*)</g)) {
      texts.push({ where: `media/walkthrough/de/${name}`, text: text! });
    }
  }
  return texts;
}

/** A temp file spelled as adjective and noun ("temporäre Datei", "temporären Dateien", …) or as the bare "Temp". */
const OTHER_SPELLING = /\btemporär(?:e|en|er|es)?\s+Datei|(?<![\w.-])Temp(?![\w.-])/i;

suite('German terms: one spelling of the temp file', () => {
  test('no German text says "temporäre Datei" (any case or ending) or a bare "Temp": it is "Temporärdatei"', () => {
    const texts = germanTexts();
    assert.ok(texts.length > 300, `only ${texts.length} German texts found`);
    const other = texts.filter(({ text }) => OTHER_SPELLING.test(text)).map(({ where, text }) => `${where}: ${text}`);
    assert.deepEqual(other, []);
    assert.ok(texts.some(({ text }) => text.includes('Temporärdatei')));
  });

  test('the orphans view is "Verwaiste Temporärdateien", as the Sweep command names it', () => {
    const manifest = readJson('package.nls.de.json');
    assert.equal(manifest['view.orphans.name'], 'Verwaiste Temporärdateien');
    assert.equal(manifest['command.sweep.title'], 'Verwaiste Temporärdateien bereinigen');
  });

  test('each German view title reads the same when the header capitalises every word', () => {
    const manifest = readJson('package.nls.de.json');
    const capitalised = (title: string) =>
      title.replace(/(^|\s)(\p{Ll})/gu, (_, space: string, letter: string) => space + letter.toUpperCase());
    for (const [key, title] of Object.entries(manifest).filter(([key]) => /^view\.\w+\.name$/.test(key))) {
      assert.equal(capitalised(title), title, key);
    }
  });

  test('the spelling check finds each old form (self-check)', () => {
    for (const text of [
      'Verwaiste temporäre Dateien',
      'Verwaiste Temporäre Dateien',
      'mit gültiger temporärer Datei',
      'der temporären Datei',
      'in Temp schreiben',
    ]) {
      assert.ok(OTHER_SPELLING.test(text), text);
    }
    for (const text of ['Verwaiste Temporärdateien', 'todo.json.tmp', 'crash-safe-temp', '{0} Temporärdateien']) {
      assert.ok(!OTHER_SPELLING.test(text), text);
    }
  });
});
