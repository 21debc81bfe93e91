import * as assert from 'node:assert/strict';
import { markdownText } from '../../src/ui/markdownText';

suite('markdownText (hover texts)', () => {
  test('single spaces stay spaces, so a long sentence can wrap', () => {
    const sentence =
      'data/todo.json ist beschädigt; eine gültige temporäre Datei davon kann die Datei wiederherstellen.';
    assert.equal(markdownText(sentence), sentence);
  });

  test('Markdown syntax and theme icons are escaped, so the text shows as written', () => {
    assert.equal(
      markdownText('*.tmp.<id> [a](b) `x` #1 $(warning) _y_ ~z~ !'),
      '\\*.tmp.<id\\> \\[a\\]\\(b\\) \\`x\\` \\#1 \\$\\(warning\\) \\_y\\_ \\~z\\~ \\!',
    );
    assert.equal(markdownText('a\\b -c +d >e |f'), 'a\\\\b \\-c \\+d \\>e \\|f');
  });

  test('runs of spaces and tabs keep their width; a newline starts a paragraph', () => {
    assert.equal(markdownText('a  b\tc'), 'a&nbsp;&nbsp;b&nbsp;&nbsp;&nbsp;&nbsp;c');
    assert.equal(markdownText('line one\nline two'), 'line one\n\nline two');
  });
});
