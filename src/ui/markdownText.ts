/**
 * `text` as Markdown that shows exactly that text, like `MarkdownString.appendText`, except that single spaces stay
 * spaces: appendText turns every space into `&nbsp;`, so a long sentence (German, a to-do note) cannot wrap in a
 * hover and is broken mid-word instead. Runs of spaces still keep their width. No vscode import: unit-tested.
 */
export function markdownText(text: string): string {
  return text
    .replace(/[\\`*_{}[\]()#+\-!~>$|]/g, '\\$&')
    .replace(/ {2,}|\t/g, (run) => '&nbsp;'.repeat(run === '\t' ? 4 : run.length))
    .replace(/\n/g, '\n\n');
}
