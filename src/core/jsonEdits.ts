import { findNodeAtLocation, type JSONPath, type Node, type ParseError, parseTree } from 'jsonc-parser';
import { hasBom } from './json';

/**
 * Surgical edits of JSON text, the way VS Code edits settings.json (jsonc-parser's parse tree): each edit replaces
 * only the bytes of the member it changes, so every other byte stays as it was: numbers beyond double precision,
 * escapes, key order, white space, line endings, a BOM. New members follow the style of their neighbours.
 *
 * Unlike jsonc-parser's `modify` + `format`, nothing next to an edit is re-formatted, and a removal keeps CRLF intact.
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

/** Text to put into the document as it stands, for example an element moved from elsewhere. */
export interface RawJson {
  raw: string;
}

const isRaw = (value: unknown): value is RawJson =>
  typeof value === 'object' && value !== null && Object.keys(value).length === 1 && typeof (value as RawJson).raw === 'string';

/** Edits one JSON text in place. Throws when the text does not parse or a path does not lead where it must. */
export class JsonTextEditor {
  private readonly bom: string;
  private body: string;
  private readonly style: JsonTextStyle;
  private root: Node | undefined;

  constructor(text: string) {
    this.bom = hasBom(text) ? '\ufeff' : '';
    this.body = text.slice(this.bom.length);
    this.style = jsonTextStyleOf(this.body);
  }

  get text(): string {
    return this.bom + this.body;
  }

  /** The node at `path`, or undefined. */
  nodeAt(path: JSONPath): Node | undefined {
    return findNodeAtLocation(this.tree(), path);
  }

  /** The source text of the value at `path`. */
  rawAt(path: JSONPath): string {
    const node = this.required(path);
    return this.body.slice(node.offset, node.offset + node.length);
  }

  /** Sets member `key` of the object at `objectPath`: its value is replaced in place, or it is added last. */
  setProperty(objectPath: JSONPath, key: string, value: unknown): void {
    const existing = this.nodeAt([...objectPath, key]);
    if (existing) this.replace(existing.offset, existing.length, this.render(value, this.lineIndentAt(existing.offset), this.isMultiLine(existing.parent!.parent!)));
    else this.insertProperty(objectPath, key, value);
  }

  /** Adds member `key` at position `index` (default last) of the object at `objectPath`. */
  insertProperty(objectPath: JSONPath, key: string, value: unknown, index?: number): void {
    const object = this.container(objectPath, 'object');
    const colon = this.colonOf(object);
    this.insertChild(object, index ?? object.children!.length, (indent, multiLine) => `${JSON.stringify(key)}${colon}${this.render(value, indent, multiLine)}`);
  }

  /** Removes member `key` of the object at `objectPath`, with its separator; nothing when it is absent. */
  removeProperty(objectPath: JSONPath, key: string): void {
    const object = this.container(objectPath, 'object');
    const index = object.children!.findIndex((property) => property.children?.[0]?.value === key);
    if (index >= 0) this.removeChild(object, index);
  }

  /** Inserts `value` (or raw text) as element `index` of the array at `arrayPath`. */
  insertElement(arrayPath: JSONPath, index: number, value: unknown): void {
    const array = this.container(arrayPath, 'array');
    this.insertChild(array, index, (indent, multiLine) => (isRaw(value) ? value.raw : this.render(value, indent, multiLine)));
  }

  /** Removes element `index` of the array at `arrayPath`, with its separator. */
  removeElement(arrayPath: JSONPath, index: number): void {
    const array = this.container(arrayPath, 'array');
    if (index < 0 || index >= array.children!.length) throw new Error(`No element ${index} at /${arrayPath.join('/')}`);
    this.removeChild(array, index);
  }

  private tree(): Node {
    if (!this.root) {
      const errors: ParseError[] = [];
      const root = parseTree(this.body, errors, { disallowComments: false, allowTrailingComma: false });
      if (!root || errors.length > 0) throw new Error('the text to edit does not parse');
      this.root = root;
    }
    return this.root;
  }

  private required(path: JSONPath): Node {
    const node = this.nodeAt(path);
    if (!node) throw new Error(`Nothing at /${path.join('/')}`);
    return node;
  }

  private container(path: JSONPath, type: 'object' | 'array'): Node {
    const node = this.required(path);
    if (node.type !== type) throw new Error(`/${path.join('/')} is not an ${type}`);
    return node;
  }

  private replace(offset: number, length: number, content: string): void {
    this.body = this.body.slice(0, offset) + content + this.body.slice(offset + length);
    this.root = undefined;
  }

  /** A container is laid out on several lines when it spans a line break; an empty one, when the document does. */
  private isMultiLine(container: Node): boolean {
    const inside = (container.children?.length ?? 0) > 0 ? this.body.slice(container.offset, container.offset + container.length) : this.body;
    return inside.includes('\n');
  }

  /** The white space that starts the line holding `offset`. */
  private lineIndentAt(offset: number): string {
    const lineStart = this.body.lastIndexOf('\n', offset - 1) + 1;
    return /^[ \t]*/.exec(this.body.slice(lineStart, offset))![0];
  }

  /** The indentation of `child` when it starts its own line, else undefined. */
  private ownLineIndent(child: Node): string | undefined {
    const indent = this.lineIndentAt(child.offset);
    const lineStart = this.body.lastIndexOf('\n', child.offset - 1) + 1;
    return lineStart + indent.length === child.offset ? indent : undefined;
  }

  /** The text between a member's name and its value, as the object already writes it. */
  private colonOf(object: Node): string {
    const first = object.children?.[0];
    if (!first?.children?.[1]) return ': ';
    const [name, value] = first.children;
    const between = this.body.slice(name!.offset + name!.length, value!.offset);
    return /^\s*:\s*$/.test(between) ? between : ': ';
  }

  private render(value: unknown, indent: string, multiLine: boolean): string {
    const text = multiLine ? JSON.stringify(value, null, this.style.indentUnit) : JSON.stringify(value);
    if (text === undefined) throw new Error('the value has no JSON form');
    return multiLine ? text.replace(/\n/g, this.style.eol + indent) : text;
  }

  private insertChild(container: Node, index: number, content: (indent: string, multiLine: boolean) => string): void {
    const children = container.children!;
    if (index < 0 || index > children.length) throw new Error(`Cannot insert at ${index} of ${children.length}`);
    const multiLine = this.isMultiLine(container);
    const closingIndent = this.lineIndentAt(container.offset);
    if (children.length === 0) {
      const indent = closingIndent + this.style.indentUnit;
      const inner = multiLine ? `${this.style.eol}${indent}${content(indent, true)}${this.style.eol}${closingIndent}` : content('', false);
      this.replace(container.offset + 1, container.length - 2, inner);
      return;
    }
    const indent = this.ownLineIndent(children[0]!) ?? closingIndent + this.style.indentUnit;
    const separator = this.separatorOf(container, indent, multiLine);
    const item = content(indent, multiLine);
    if (index === 0) this.replace(children[0]!.offset, 0, item + separator);
    else {
      const previous = children[index - 1]!;
      this.replace(previous.offset + previous.length, 0, separator + item);
    }
  }

  /** What the container puts between two children: taken from its first two, else its layout's default. */
  private separatorOf(container: Node, indent: string, multiLine: boolean): string {
    const [first, second] = container.children!;
    if (first && second) {
      const between = this.body.slice(first.offset + first.length, second.offset);
      if (/^\s*,\s*$/.test(between)) return between;
    }
    if (multiLine) return `,${this.style.eol}${indent}`;
    return this.body.includes(', ') ? ', ' : ',';
  }

  private removeChild(container: Node, index: number): void {
    const children = container.children!;
    const child = children[index]!;
    if (children.length === 1) this.replace(container.offset + 1, container.length - 2, '');
    else if (index < children.length - 1) this.replace(child.offset, children[index + 1]!.offset - child.offset, '');
    else {
      const previous = children[index - 1]!;
      const from = previous.offset + previous.length;
      this.replace(from, child.offset + child.length - from, '');
    }
  }
}
