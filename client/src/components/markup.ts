// The small message markup the timeline understands, as a pure tokenizer: links (http, https and mailto
// only), `code`, **strong**, *emphasis* and @mentions of the reader. It returns data, never HTML: the
// timeline turns the tokens into Lit templates (rich-text.ts), so no user text is ever parsed as markup.
import { nameKey } from "./chat-state.ts";

export type Token =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "code"; readonly text: string }
  /** `href` is the parsed, normalised URL (http:, https: or mailto: only); `text` is what was typed. */
  | { readonly kind: "link"; readonly href: string; readonly text: string }
  | { readonly kind: "mention"; readonly text: string }
  | { readonly kind: "strong" | "em"; readonly children: readonly Token[] };

/** Longest text that is tokenized; the rest is plain text (the contract caps a message at 4096 bytes anyway). */
const MAX_MARKUP_CHARS = 8192;
const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
// A link starts at a scheme we allow, at the start or after a non-word character, and runs to white space.
const LINK = /(?<![\p{L}\p{N}_])(?:https?:\/\/|mailto:)[^\s<>"`]+/giu;
const TRAILING = /[.,;:!?'")\]}*]+$/u;
const WORD = /[\p{L}\p{N}_]/u;

/** The URL `raw` stands for when it is a link we render (http, https or mailto, and parseable), else undefined. */
export const safeHref = (raw: string): string | undefined => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (!SAFE_PROTOCOLS.has(url.protocol)) return undefined;
  if (url.protocol !== "mailto:" && url.hostname === "") return undefined;
  return url.href;
};

/** The tokens of `text`; `me` (the reader's username) makes "@me" a mention. Nothing else is interpreted. */
export const tokenize = (text: string, me = ""): Token[] => {
  if (text.length > MAX_MARKUP_CHARS) return [{ kind: "text", text }];
  const out: Token[] = [];
  // Code spans first: nothing inside them is interpreted.
  const parts = text.split(/(`[^`\n]+`)/u);
  for (const part of parts) {
    if (part.length > 2 && part.startsWith("`") && part.endsWith("`")) out.push({ kind: "code", text: part.slice(1, -1) });
    else if (part !== "") out.push(...links(part, me));
  }
  return merge(out);
};

/** Whether `text` mentions `me` ("@me" with no letter or digit right after the name). */
export const mentions = (text: string, me: string): boolean => tokensMention(tokenize(text, me));

const tokensMention = (tokens: readonly Token[]): boolean =>
  tokens.some((t) => t.kind === "mention" || ((t.kind === "strong" || t.kind === "em") && tokensMention(t.children)));

const links = (text: string, me: string): Token[] => {
  const out: Token[] = [];
  let at = 0;
  for (const m of text.matchAll(LINK)) {
    let raw = m[0];
    // Punctuation that ends a sentence is not part of the link; a ")" is when the link opened one.
    const trail = TRAILING.exec(raw)?.[0] ?? "";
    raw = raw.slice(0, raw.length - trail.length);
    if (trail.startsWith(")") && raw.includes("(")) raw += ")";
    const href = raw.includes(":") ? safeHref(raw) : undefined;
    if (href === undefined || /^(?:https?:\/\/|mailto:)$/iu.test(raw)) continue;
    out.push(...emphasis(text.slice(at, m.index), me));
    out.push({ kind: "link", href, text: raw });
    at = m.index + raw.length;
  }
  out.push(...emphasis(text.slice(at), me));
  return out;
};

/**
 * `**strong**` and `*em*`: a marker opens before a non-space and closes after one, with something between.
 * Strong may hold emphasis; markers that do not pair stay as typed.
 */
const emphasis = (text: string, me: string, depth = 0): Token[] => {
  if (text === "") return [];
  const re = depth === 0 ? /\*\*(?=\S)([^]*?\S)\*\*|\*(?=[^\s*])([^*]*?[^\s*])\*(?!\*)/u : /\*(?=[^\s*])([^*]*?[^\s*])\*(?!\*)/u;
  const m = re.exec(text);
  if (m === null) return mentionTokens(text, me);
  const before = text.slice(0, m.index);
  const after = text.slice(m.index + m[0].length);
  const inner =
    m[1] !== undefined && depth === 0 && m[0].startsWith("**")
      ? { kind: "strong" as const, children: emphasis(m[1], me, 1) }
      : { kind: "em" as const, children: mentionTokens(m[2] ?? m[1] ?? "", me) };
  return [...mentionTokens(before, me), inner, ...emphasis(after, me, depth)];
};

const mentionTokens = (text: string, me: string): Token[] => {
  if (me === "" || !text.includes("@")) return [{ kind: "text", text }];
  const key = nameKey(me);
  const lower = nameKey(text);
  // nameKey keeps the length of most text; where it does not, mentions are not looked for.
  if (lower.length !== text.length) return [{ kind: "text", text }];
  const out: Token[] = [];
  let at = 0;
  for (let i = lower.indexOf(`@${key}`); i >= 0; i = lower.indexOf(`@${key}`, i + 1)) {
    const end = i + 1 + key.length;
    const before = i === 0 ? "" : text[i - 1]!;
    const next = text[end] ?? "";
    if ((before !== "" && WORD.test(before)) || (next !== "" && WORD.test(next))) continue;
    if (i > at) out.push({ kind: "text", text: text.slice(at, i) });
    out.push({ kind: "mention", text: text.slice(i, end) });
    at = end;
  }
  if (at < text.length) out.push({ kind: "text", text: text.slice(at) });
  return out;
};

/** Joins neighbouring text tokens (what was left of markers that did not pair). */
const merge = (tokens: Token[]): Token[] => {
  const out: Token[] = [];
  for (const t of tokens) {
    const last = out.at(-1);
    if (t.kind === "text" && last?.kind === "text") out[out.length - 1] = { kind: "text", text: last.text + t.text };
    else if (!(t.kind === "text" && t.text === "")) out.push(t);
  }
  return out;
};
