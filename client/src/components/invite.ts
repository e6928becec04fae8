// Invite links: `https://host/page?join=K7QX2M` opens the page with <chat-app>, which asks to log in if
// needed, joins room K7QX2M and then takes `join` out of the address bar (history.replaceState, so a reload
// or a shared screenshot of the URL does not join again). The link is the page the element is on.

/** The query parameter of an invite link. */
export const INVITE_PARAM = "join";

/** A room code as the contract has it: letters and digits (any case; the server upper-cases). */
const CODE = /^[A-Za-z0-9]{4,16}$/u;

/** The room code of the invite link this page was opened with, if any (and well formed). */
export const readInvite = (): string | undefined => {
  const loc = globalThis.location;
  if (loc === undefined) return undefined;
  const code = new URLSearchParams(loc.search).get(INVITE_PARAM)?.trim() ?? "";
  return CODE.test(code) ? code.toUpperCase() : undefined;
};

/** Takes the invite out of the address bar, keeping the rest of the URL and the history entry. */
export const clearInvite = (): void => {
  const loc = globalThis.location;
  const hist = globalThis.history;
  if (loc === undefined || hist === undefined) return;
  const url = new URL(loc.href);
  if (!url.searchParams.has(INVITE_PARAM)) return;
  url.searchParams.delete(INVITE_PARAM);
  try {
    hist.replaceState(hist.state, "", url.href);
  } catch {
    // A sandboxed page may refuse: the invite then stays in the bar (joining twice is harmless).
  }
};

/** The invite link to room `code`: this page with `?join=CODE`. */
export const inviteLink = (code: string): string => {
  const loc = globalThis.location;
  if (loc === undefined) return `?${INVITE_PARAM}=${encodeURIComponent(code)}`;
  const url = new URL(loc.href);
  url.hash = "";
  url.search = "";
  url.searchParams.set(INVITE_PARAM, code);
  return url.href;
};
