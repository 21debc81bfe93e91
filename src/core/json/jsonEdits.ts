import { hasBom, type JsonChildSpan, type JsonSpan, type JsonValueSpan, jsonSpans } from './json';

/**
 * Surgical edits of strict JSON text, the way VS Code edits settings.json: each edit replaces only the bytes of the
 * member it changes, so every other byte stays as it was: numbers beyond double precision, escapes, key order,
 * white space, line endings, a BOM. New members follow the layout of their neighbours.
 *
 * Unlike jsonc-parser's `modify` + `format`, nothing next to an edit is re-formatted, a removal keeps CRLF intact,
 * and the tree is built by one linear scan (jsonc-parser's parseTree took 1.5 s for a 1.5 MB to-do list).
 */

/** How the file lays out its text: line ending and one indentation step. */
export interface JsonTextStyle {
  eol: string;
  indentUnit: string;
}

/** The line ending and indentation step `text` uses; `\n` and two spaces when it shows none. */
export function jsonTextStyleOf(text: string): JsonTextStyle {
  const firstBreak = text.indexOf('\n');
  const eol = firstBreak > 0 && text[firstBreak - 1] === '\r' ? '\r\n' : '\n';
  const indented = /\n([ \t]+)\S/.exec(text);
  let indentUnit = '  ';
  if (indented) indentUnit = indented[1]!.startsWith('\t') ? '\t' : ' '.repeat(Math.min(indented[1]!.length, 8));
  return { eol, indentUnit };
}

export type JsonPath = Array<string | number>;

/**
 * An element of a rewritten array: one it holds now (by index; its own text, or `raw` instead), or a new one given
 * as a value (laid out like its neighbours) or as text.
 */
export type ArrayItem = { index: number; raw?: string } | { value: unknown } | { raw: string };

/** The member named `name` (the last one, as JSON.parse reads a duplicate), or undefined. */
function lastMember(object: JsonValueSpan, name: string): JsonChildSpan | undefined {
  for (let index = object.children.length - 1; index >= 0; index--) {
    if (object.children[index]!.name === name) return object.children[index];
  }
  return undefined;
}

/** Edits one JSON text in place. Throws when the text is not strict JSON or a path does not lead where it must. */
export class JsonTextEditor {
  private readonly bom: string;
  private body: string;
  readonly style: JsonTextStyle;
  private root: JsonValueSpan | undefined;

  /**
   * Throws SyntaxError unless `text` (after a BOM) is strict JSON. `style` (default: the text's own) is for a part
   * cut from a larger file, so what is added to it follows the file.
   */
  constructor(text: string, style?: JsonTextStyle) {
    this.bom = hasBom(text) ? '\ufeff' : '';
    this.body = text.slice(this.bom.length);
    JSON.parse(this.body);
    this.style = style ?? jsonTextStyleOf(this.body);
  }

  get text(): string {
    return this.bom + this.body;
  }

  /** The source text of the value at `path`. */
  rawAt(path: JsonPath): string {
    const node = this.required(path);
    return this.body.slice(node.start, node.end);
  }

  /** Sets member `key` of the object at `objectPath`: its value is replaced in place, or it is added last. */
  setProperty(objectPath: JsonPath, key: string, value: unknown): void {
    const object = this.container(objectPath, 'object');
    const member = lastMember(object, key);
    if (!member) {
      this.insertProperty(objectPath, key, value);
      return;
    }
    const text = this.render(value, this.lineIndentAt(member.start), this.isMultiLine(object));
    this.replace(member.value.start, member.value.end - member.value.start, text);
  }

  /** Adds member `key` at position `index` (default last) of the object at `objectPath`. */
  insertProperty(objectPath: JsonPath, key: string, value: unknown, index?: number): void {
    const object = this.container(objectPath, 'object');
    const colon = this.colonOf(object);
    this.insertChild(
      object,
      index ?? object.children.length,
      (indent, multiLine) => `${JSON.stringify(key)}${colon}${this.render(value, indent, multiLine)}`,
    );
  }

  /** Removes member `key` of the object at `objectPath`, with its separator; nothing when it is absent. */
  removeProperty(objectPath: JsonPath, key: string): void {
    const object = this.container(objectPath, 'object');
    const member = lastMember(object, key);
    if (member) this.removeChild(object, object.children.indexOf(member));
  }

  /**
   * Rewrites the array at `arrayPath` in one edit as `items`, new values laid out like the array's elements. What
   * stood between two elements that stay neighbours is kept, and so is the space after `[` and before `]`. One
   * pass, however many elements moved: each edit otherwise scans the whole text again.
   */
  rewriteArray(arrayPath: JsonPath, items: readonly ArrayItem[]): void {
    const array = this.container(arrayPath, 'array');
    const children = array.children;
    const multiLine = this.isMultiLine(array);
    const closingIndent = this.lineIndentAt(array.start);
    let indent = closingIndent + this.style.indentUnit;
    let lead = multiLine ? `${this.style.eol}${indent}` : '';
    let trail = multiLine ? `${this.style.eol}${closingIndent}` : '';
    if (children.length > 0) {
      indent = this.ownLineIndent(children[0]!) ?? indent;
      lead = this.body.slice(array.start + 1, children[0]!.start);
      trail = this.body.slice(children.at(-1)!.end, array.end - 1);
    }
    const separator = this.separatorOf(array, indent, multiLine);
    const parts: string[] = [];
    items.forEach((item, position) => {
      const previous = items[position - 1];
      if (previous !== undefined) {
        const neighbours = 'index' in previous && 'index' in item && item.index === previous.index + 1;
        parts.push(
          neighbours ? this.body.slice(children[previous.index]!.end, children[item.index]!.start) : separator,
        );
      }
      if ('value' in item) parts.push(this.render(item.value, indent, multiLine));
      else if (!('index' in item)) parts.push(item.raw);
      else {
        const child = children[item.index];
        if (!child) throw new Error(`No element ${item.index} at /${arrayPath.join('/')}`);
        parts.push(item.raw ?? this.body.slice(child.start, child.end));
      }
    });
    this.replace(array.start + 1, array.end - array.start - 2, parts.length === 0 ? '' : lead + parts.join('') + trail);
  }

  private tree(): JsonValueSpan {
    this.root ??= jsonSpans(this.body);
    return this.root;
  }

  private required(path: JsonPath): JsonValueSpan {
    let node = this.tree();
    for (const segment of path) {
      let child: JsonChildSpan | undefined;
      if (typeof segment === 'number') child = node.kind === 'array' ? node.children[segment] : undefined;
      else child = node.kind === 'object' ? lastMember(node, segment) : undefined;
      if (!child) throw new Error(`Nothing at /${path.join('/')}`);
      node = child.value;
    }
    return node;
  }

  private container(path: JsonPath, kind: 'object' | 'array'): JsonValueSpan {
    const node = this.required(path);
    if (node.kind !== kind) throw new Error(`/${path.join('/')} is not an ${kind}`);
    return node;
  }

  private replace(offset: number, length: number, content: string): void {
    this.body = this.body.slice(0, offset) + content + this.body.slice(offset + length);
    this.root = undefined;
  }

  /** A container is laid out on several lines when it spans a line break; an empty one, when the document's value does. */
  private isMultiLine(container: JsonValueSpan): boolean {
    const outer = container.children.length > 0 ? container : this.tree();
    const lineBreak = this.body.indexOf('\n', outer.start);
    return lineBreak !== -1 && lineBreak < outer.end;
  }

  /** The white space that starts the line holding `offset`. */
  private lineIndentAt(offset: number): string {
    const lineStart = this.body.lastIndexOf('\n', offset - 1) + 1;
    return /^[ \t]*/.exec(this.body.slice(lineStart, offset))![0];
  }

  /** The indentation of `child` when it starts its own line, else undefined. */
  private ownLineIndent(child: JsonSpan): string | undefined {
    const indent = this.lineIndentAt(child.start);
    const lineStart = this.body.lastIndexOf('\n', child.start - 1) + 1;
    return lineStart + indent.length === child.start ? indent : undefined;
  }

  /** The text between a member's name and its value, as the object already writes it. */
  private colonOf(object: JsonValueSpan): string {
    const first = object.children[0];
    if (first?.nameEnd === undefined) return ': ';
    const between = this.body.slice(first.nameEnd, first.valueStart);
    return /^[ \t]*:[ \t]*$/.test(between) ? between : ': ';
  }

  private render(value: unknown, indent: string, multiLine: boolean): string {
    const text = multiLine ? JSON.stringify(value, null, this.style.indentUnit) : JSON.stringify(value);
    if (text === undefined) throw new Error('the value has no JSON form');
    return multiLine ? text.replace(/\n/g, this.style.eol + indent) : text;
  }

  private insertChild(
    container: JsonValueSpan,
    index: number,
    content: (indent: string, multiLine: boolean) => string,
  ): void {
    const children = container.children;
    if (index < 0 || index > children.length) throw new Error(`Cannot insert at ${index} of ${children.length}`);
    const multiLine = this.isMultiLine(container);
    const closingIndent = this.lineIndentAt(container.start);
    if (children.length === 0) {
      const indent = closingIndent + this.style.indentUnit;
      const inner = multiLine
        ? `${this.style.eol}${indent}${content(indent, true)}${this.style.eol}${closingIndent}`
        : content('', false);
      this.replace(container.start + 1, container.end - container.start - 2, inner);
      return;
    }
    const indent = this.ownLineIndent(children[0]!) ?? closingIndent + this.style.indentUnit;
    const separator = this.separatorOf(container, indent, multiLine);
    const item = content(indent, multiLine);
    if (index === 0) this.replace(children[0]!.start, 0, item + separator);
    else this.replace(children[index - 1]!.end, 0, separator + item);
  }

  /** What the container puts between two children: taken from its first two, else its layout's default. */
  private separatorOf(container: JsonValueSpan, indent: string, multiLine: boolean): string {
    const [first, second] = container.children;
    if (first && second) return this.body.slice(first.end, second.start);
    if (multiLine) return `,${this.style.eol}${indent}`;
    return this.body.includes(', ') ? ', ' : ',';
  }

  private removeChild(container: JsonValueSpan, index: number): void {
    const children = container.children;
    const child = children[index]!;
    if (children.length === 1) this.replace(container.start + 1, container.end - container.start - 2, '');
    else if (index < children.length - 1) this.replace(child.start, children[index + 1]!.start - child.start, '');
    else {
      const from = children[index - 1]!.end;
      this.replace(from, child.end - from, '');
    }
  }
}
