// Message markup as Lit templates: each token of markup.ts becomes an element with text bindings (an <a>
// with a checked href, <strong>, <em>, <code>, a <mark> for a mention of the reader). No HTML string is
// ever built or parsed, so nothing a message says can add other elements or run script.
import { html, type TemplateResult } from "lit";
import { type Token, tokenize } from "./markup.ts";

/** The tokens of the last texts rendered, per reader: a message is tokenized once, not on every render. */
const cache = new Map<string, Token[]>();
const CACHE_SIZE = 2000;

const cachedTokens = (text: string, me: string): Token[] => {
  const key = `${me}\u0000${text}`;
  let tokens = cache.get(key);
  if (tokens === undefined) {
    tokens = tokenize(text, me);
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(key, tokens);
  }
  return tokens;
};

const renderToken = (t: Token): TemplateResult | string => {
  switch (t.kind) {
    case "text":
      return t.text;
    case "code":
      return html`<code>${t.text}</code>`;
    case "link":
      return html`<a href=${t.href} target="_blank" rel="noopener noreferrer">${t.text}</a>`;
    case "mention":
      return html`<mark class="mention" part="mention" data-mention>${t.text}</mark>`;
    case "strong":
      return html`<strong>${t.children.map(renderToken)}</strong>`;
    case "em":
      return html`<em>${t.children.map(renderToken)}</em>`;
  }
};

/** `text` with its markup, for the reader `me` (whose @mentions are marked). */
export const richText = (text: string, me = ""): Array<TemplateResult | string> => cachedTokens(text, me).map(renderToken);
