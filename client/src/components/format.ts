// Small pure formatters for the component's text: times, counts, the typing line, avatar colours.

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** "14:05" for today, "Mon 14:05" within a week, "3 Nov, 14:05" before that. */
export const shortTime = (ms: number, now = Date.now()): string => {
  const d = new Date(ms);
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  const today = new Date(now);
  if (d.toDateString() === today.toDateString()) return time;
  if (now - ms < 6 * 24 * 3600 * 1000 && now >= ms) return `${d.toLocaleDateString(undefined, { weekday: "short" })} ${time}`;
  return `${d.toLocaleDateString(undefined, { day: "numeric", month: "short" })}, ${time}`;
};

/** A date separator's words: "Today", "Yesterday", else "Monday, 3 November" (with the year when not this one). */
export const dayLabel = (dayMs: number, now = Date.now()): string => {
  const today = new Date(now).setHours(0, 0, 0, 0);
  if (dayMs === today) return "Today";
  if (dayMs === new Date(today - 12 * 3600 * 1000).setHours(0, 0, 0, 0)) return "Yesterday";
  const sameYear = new Date(dayMs).getFullYear() === new Date(now).getFullYear();
  return new Date(dayMs).toLocaleDateString(undefined, {
    weekday: "long",
    day: "numeric",
    month: "long",
    ...(sameYear ? {} : { year: "numeric" }),
  });
};

export const fullTime = (ms: number): string => new Date(ms).toLocaleString();

/** "bob is typing…", "bob and carol are typing…", "bob, carol and 2 others are typing…". */
export const typingLine = (names: ReadonlyArray<string>): string => {
  const [a, b, c] = names;
  if (a === undefined) return "";
  if (b === undefined) return `${a} is typing…`;
  if (c === undefined) return `${a} and ${b} are typing…`;
  if (names.length === 3) return `${a}, ${b} and ${c} are typing…`;
  return `${a}, ${b} and ${plural(names.length - 2, "other")} are typing…`;
};

/** A stable hue (0-359) for a username, so each person keeps one avatar colour. */
export const hueOf = (name: string): number => {
  let h = 2166136261;
  for (const ch of name.toLowerCase()) h = Math.imul(h ^ (ch.codePointAt(0) ?? 0), 16777619);
  return (h >>> 0) % 360;
};

/** The first letter or digit (a whole code point, upper-cased) for an avatar; else the first character. */
export const initial = (name: string): string => {
  const chars = [...name.trim()];
  const first = chars.find((c) => /[\p{L}\p{N}]/u.test(c)) ?? chars[0];
  return first === undefined ? "?" : first.toUpperCase();
};

/** "Reconnecting in 3 s…" while waiting, "Reconnecting…" when the attempt is under way. */
export const reconnectLine = (retryAtMs: number | undefined, now = Date.now()): string => {
  if (retryAtMs === undefined) return "Connection lost. Reconnecting…";
  const s = Math.max(0, Math.ceil((retryAtMs - now) / 1000));
  return s === 0 ? "Connection lost. Reconnecting…" : `Connection lost. Reconnecting in ${s} s…`;
};

/** "30 seconds", "1 minute", "2 minutes": how long an empty temporary room lasts. */
export const durationWords = (ms: number): string => {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s < 90) return plural(s, "second");
  return plural(Math.round(s / 60), "minute");
};

/** What a temporary room says about its end. */
export const temporaryRoomLine = (graceMs: number): string =>
  `Temporary room: it disappears ${durationWords(graceMs)} after everyone has left.`;

export const recoveredLine = (count: number): string =>
  count === 0 ? "Reconnected" : `Reconnected — ${plural(count, "missed message")} recovered`;

/** Byte length of the UTF-8 encoding: the server's text limits are in bytes. */
export const utf8Length = (text: string): number => new TextEncoder().encode(text).length;

/** A form field's text ("" when absent or a file). */
export const formText = (data: FormData, name: string): string => {
  const value = data.get(name);
  return typeof value === "string" ? value : "";
};
