// Text edits of YAML files the user owns. Splicing whole lines into the original text,
// instead of printing a changed Document, is what keeps every byte we do not own:
// `Document.toString()` re-spaces comments, reflows flow sequences and drops CRLF.

import { isSeq, type Node, type YAMLSeq } from "./lazy.js";

/** The line ending the file already uses, so that inserted lines match it. */
export function eolOf(text: string): string {
  return text.includes("\r\n") ? "\r\n" : "\n";
}

export function lineStart(text: string, offset: number): number {
  return text.lastIndexOf("\n", offset - 1) + 1;
}

/** The offset just after the line holding `offset` (its newline included). */
export function nextLineStart(text: string, offset: number): number {
  const end = text.indexOf("\n", offset);
  return end === -1 ? text.length : end + 1;
}

/** Where a node's content ends, at a line start: after its last line, comments after it on that line included. */
export function afterNode(text: string, node: Node): number {
  const end = node.range?.[1] ?? 0;
  return end > 0 && text[end - 1] === "\n" ? end : nextLineStart(text, end);
}

/**
 * The column of the `- ` that introduces a block sequence item whose value starts at
 * `offset`, or undefined when the item does not start on a line of its own (`- - x`, `key: - x`).
 */
export function dashColumn(text: string, offset: number): number | undefined {
  const start = lineStart(text, offset);
  const m = /^( *)-[ \t]+$/.exec(text.slice(start, offset));
  return m ? (m[1] ?? "").length : undefined;
}

/** The column where a block mapping's first key starts, when it starts a line of its own. */
export function keyColumn(text: string, offset: number): number | undefined {
  const start = lineStart(text, offset);
  const before = text.slice(start, offset);
  return /^ *$/.test(before) ? before.length : undefined;
}

/** `lines` indented by `column`, each ending with the file's line ending; empty lines stay empty. */
export function indentLines(lines: string[], column: number, eol: string): string {
  const pad = " ".repeat(column);
  return lines.map((line) => (line === "" ? eol : `${pad}${line}${eol}`)).join("");
}

/** Inserts text at a line start; a file without a final newline gets one first. */
export function insertAt(text: string, offset: number, inserted: string): string {
  if (offset === text.length && text !== "" && !text.endsWith("\n")) {
    return `${text}${eolOf(text)}${inserted}`;
  }
  return text.slice(0, offset) + inserted + text.slice(offset);
}

/**
 * The text with one more item in the list `node`: inside a flow list's brackets, as a
 * `- ` line after a block list's last item, or, where `single` accepts the node, a single
 * value `x` made into `[x, item]`. `fail` is called with why it cannot: a block list whose
 * items do not start lines of their own (`layout`), or a value that is none of these
 * (`shape`).
 */
export function appendItem(
  text: string,
  node: Node,
  item: { flow: string; block: string },
  single: (node: Node) => boolean,
  fail: (why: "layout" | "shape") => never,
): string {
  if (isSeq(node) && (node as YAMLSeq).flow && node.range) {
    const close = text.lastIndexOf("]", node.range[1]);
    return `${text.slice(0, close)}${(node as YAMLSeq).items.length > 0 ? ", " : ""}${item.flow}${text.slice(close)}`;
  }
  if (isSeq(node)) {
    const last = (node as YAMLSeq).items.at(-1) as Node | undefined;
    const column = last?.range ? dashColumn(text, last.range[0]) : undefined;
    if (!last || column === undefined) return fail("layout");
    return insertAt(text, afterNode(text, last), indentLines([`- ${item.block}`], column, eolOf(text)));
  }
  if (node.range && single(node)) {
    const [start, end] = node.range;
    return `${text.slice(0, start)}[${text.slice(start, end)}, ${item.flow}]${text.slice(end)}`;
  }
  return fail("shape");
}
