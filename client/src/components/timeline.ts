// The timeline of one conversation (a room or a DM) as the component shows it: messages ordered by seq and
// deduplicated by seq, own sends pending until acked, and notices placed after the messages seen so far.
// Action events (edits, deletions, reactions) are not entries: they update their target in place (the SDK's
// applyAction, newer than the target's state_seq only), so the same event twice or after a page changes nothing.
// Plain TypeScript with no DOM, so it is unit-tested in Node. What a render needs beyond the entries (grouping,
// the newest own message, the message count) is worked out once per change in one pass (`layout`), so a
// render is linear in the number of entries.

// Over 400 lines: entries, pending sends, notices, action events and the one-pass layout share the same
// revision counter that keeps renders linear; the layout can move to its own module next.
import { applyAction, type ConversationEvent, type MessageView, type ReactionView } from "../sdk/index.ts";

export type MessageStatus = "pending" | "sent" | "failed";

/** What a reply shows of the message it answers. */
export interface QuoteView {
  readonly sender: string;
  readonly text: string;
  readonly deleted: boolean;
}

/** A file a message carries (the wire's Attachment, with the size as a number). */
export interface AttachmentView {
  readonly id: string;
  readonly fileName: string;
  readonly mediaType: string;
  readonly sizeBytes: number;
  readonly width: number;
  readonly height: number;
  /** "" for a file that is not an image. */
  readonly thumbnailUrl: string;
}

export const attachmentViews = (
  list: ReadonlyArray<{
    readonly id: string;
    readonly fileName: string;
    readonly mediaType: string;
    readonly sizeBytes: bigint | number;
    readonly width: number;
    readonly height: number;
    readonly thumbnailUrl: string;
  }>,
): AttachmentView[] =>
  list.map((a) => ({
    id: a.id,
    fileName: a.fileName,
    mediaType: a.mediaType,
    sizeBytes: Number(a.sizeBytes),
    width: a.width,
    height: a.height,
    thumbnailUrl: a.thumbnailUrl,
  }));

export interface MessageEntry {
  readonly kind: "message";
  /** Stable key for keyed rendering: the client message id when known, else the seq. */
  readonly key: string;
  seq: bigint | undefined;
  readonly sender: string;
  sentAtMs: number;
  /** The current text (the latest edit's); "" once deleted. */
  text: string;
  readonly clientMessageId: string;
  readonly own: boolean;
  status: MessageStatus;
  /** Why a send failed, in words. */
  error: string | undefined;
  readonly order: number;
  /** 0 until edited, then the time of the latest edit (the "edited" mark). */
  editedAtMs: number;
  /** A tombstone: shown as "Message deleted". */
  deleted: boolean;
  /** Each emoji with who reacted, in order of first use. */
  reactions: ReadonlyArray<ReactionView>;
  /** 0n when not a reply; else the seq it answers, and what it quotes. */
  readonly replyToSeq: bigint;
  replyQuote: QuoteView | undefined;
  /** The seq of the newest action reflected in this entry. */
  stateSeq: bigint;
  /** The files it carries, in order (none once deleted). */
  attachments: ReadonlyArray<AttachmentView>;
}

export interface NoticeEntry {
  readonly kind: "notice";
  readonly key: string;
  readonly text: string;
  readonly tone: "info" | "warn";
  readonly atMs: number;
  /** The notice sorts after every message with seq <= afterSeq that was there when it was added. */
  readonly afterSeq: bigint;
  readonly order: number;
}

export type Entry = MessageEntry | NoticeEntry;

/** What a stored event looks like to the timeline: a ChatMessage or a DirectMessage (a message or an action). */
export type StoredMessage = ConversationEvent;

/** The target of a reply being written. */
export interface ReplyTarget {
  readonly seq: bigint;
  readonly sender: string;
  readonly text: string;
}

const isAction = (m: StoredMessage): boolean => m.action !== undefined && m.action.kind !== 0;

const viewOfEntry = (e: MessageEntry): MessageView => ({
  seq: e.seq ?? 0n,
  sender: e.sender,
  sentAtMs: BigInt(e.sentAtMs),
  text: e.text,
  clientMessageId: e.clientMessageId,
  replyToSeq: e.replyToSeq,
  replyQuote: e.replyQuote,
  editedAtMs: BigInt(e.editedAtMs),
  deleted: e.deleted,
  reactions: e.reactions,
  stateSeq: e.stateSeq,
});

/** Copies the state of a stored message (or an updated view) onto an entry. */
const takeState = (
  e: MessageEntry,
  m: {
    readonly text: string;
    readonly editedAtMs: bigint;
    readonly deleted: boolean;
    readonly reactions: ReadonlyArray<ReactionView>;
    readonly stateSeq: bigint;
  },
): void => {
  e.text = m.deleted ? "" : m.text;
  e.editedAtMs = Number(m.editedAtMs);
  e.deleted = m.deleted;
  e.reactions = m.deleted ? [] : m.reactions.map((r) => ({ emoji: r.emoji, users: [...r.users] }));
  e.stateSeq = m.stateSeq;
  if (m.deleted) e.attachments = [];
};

const QUOTE_CHARS = 200;
const quoteOf = (e: MessageEntry): QuoteView => ({
  sender: e.sender,
  text: Array.from(e.text).slice(0, QUOTE_CHARS).join(""),
  deleted: e.deleted,
});

// Pending messages have no seq yet and stay at the end, in the order they were typed.
const PENDING = 1n << 64n;

const sortKey = (e: Entry): readonly [bigint, number, number] =>
  e.kind === "notice" ? [e.afterSeq, 1, e.order] : e.seq === undefined ? [PENDING, 0, e.order] : [e.seq, 0, 0];

const before = (a: Entry, b: Entry): boolean => {
  const [a0, a1, a2] = sortKey(a);
  const [b0, b1, b2] = sortKey(b);
  if (a0 !== b0) return a0 < b0;
  if (a1 !== b1) return a1 < b1;
  return a2 < b2;
};

let counter = 0;
const nextOrder = () => ++counter;

/** Messages closer than this by one sender share one header (name and time). */
export const GROUP_WINDOW_MS = 5 * 60 * 1000;

/** One entry as the timeline renders it. */
export interface Row {
  readonly entry: Entry;
  /** Continues the previous message's group: same sender, same side, within GROUP_WINDOW_MS (no header). */
  readonly grouped: boolean;
  /** The last message of its sender's run (the avatar goes there). */
  readonly lastOfGroup: boolean;
  /** The newest own message (the only one that says "Sent"). */
  readonly lastOwn: boolean;
  /** The first message of a local day (a date separator goes above it): that day's midnight, in ms. */
  readonly day: number | undefined;
  /** The first message that arrived while the reader was elsewhere (the "New" divider goes above it). */
  readonly firstNew: boolean;
}

export interface Layout {
  readonly rows: ReadonlyArray<Row>;
  readonly messageCount: number;
}

const sameRun = (a: Entry | undefined, b: MessageEntry): a is MessageEntry =>
  a !== undefined && a.kind === "message" && a.own === b.own && a.sender.toLowerCase() === b.sender.toLowerCase();

/** Local midnight of the day `ms` falls in. */
export const dayOf = (ms: number): number => new Date(ms).setHours(0, 0, 0, 0);

/**
 * The rows of `entries` in one pass: each entry is read once, whatever the length. `newFrom`: the seq of
 * the first message that arrived while the reader was elsewhere (the "New" divider), if any.
 */
export const layoutEntries = (entries: ReadonlyArray<Entry>, newFrom?: bigint): Layout => {
  const n = entries.length;
  const rows: Array<{
    entry: Entry;
    grouped: boolean;
    lastOfGroup: boolean;
    lastOwn: boolean;
    day: number | undefined;
    firstNew: boolean;
  }> = [];
  let messageCount = 0;
  let lastOwn = -1;
  let prev: Entry | undefined;
  let lastDay: number | undefined;
  let newShown = false;
  for (let i = 0; i < n; i++) {
    const entry = entries[i]!;
    if (entry.kind === "message") {
      messageCount++;
      if (entry.own) lastOwn = i;
      const day = dayOf(entry.sentAtMs);
      const newDay = day !== lastDay;
      lastDay = day;
      const firstNew = !newShown && newFrom !== undefined && entry.seq !== undefined && entry.seq >= newFrom;
      if (firstNew) newShown = true;
      // A new day or the "New" divider starts a new run: the header (name and time) shows again.
      const run = sameRun(prev, entry) && !newDay && !firstNew;
      // The previous message ends its run unless this one continues it.
      if (run) rows[i - 1]!.lastOfGroup = false;
      rows.push({
        entry,
        grouped: run && entry.sentAtMs - (prev as MessageEntry).sentAtMs < GROUP_WINDOW_MS,
        lastOfGroup: true,
        lastOwn: false,
        day: newDay ? day : undefined,
        firstNew,
      });
    } else {
      rows.push({ entry, grouped: false, lastOfGroup: true, lastOwn: false, day: undefined, firstNew: false });
    }
    prev = entry;
  }
  if (lastOwn >= 0) rows[lastOwn]!.lastOwn = true;
  return { rows, messageCount };
};

/** A keyed, seq-ordered list of messages and notices; `same(a, b)` says whether two usernames are one user. */
export class Timeline {
  #entries: Entry[] = [];
  readonly #bySeq = new Map<bigint, MessageEntry>();
  readonly #byClientId = new Map<string, MessageEntry>();
  /** Seqs of action events seen: they are no entries but count for paging (firstSeq / lastSeq). */
  readonly #eventSeqs = new Set<bigint>();
  /** The message the user is replying to in this conversation, if any (shown above the composer). */
  replyTo: ReplyTarget | undefined;
  /** Whether older messages exist before the first one held (false once history says so). */
  hasMore = true;
  /** Whether the first history page has been loaded. */
  loaded = false;
  #revision = 0;
  #newFrom: bigint | undefined;
  #layout: { readonly revision: number; readonly layout: Layout } | undefined;

  readonly #isMe: (username: string) => boolean;

  constructor(isMe: (username: string) => boolean) {
    this.#isMe = isMe;
  }

  get entries(): ReadonlyArray<Entry> {
    return this.#entries;
  }

  /** Highest seq held, 0 when none. */
  get lastSeq(): bigint {
    let max = 0n;
    for (const seq of this.#bySeq.keys()) if (seq > max) max = seq;
    for (const seq of this.#eventSeqs) if (seq > max) max = seq;
    return max;
  }

  /** Lowest seq held (messages and action events), undefined when none. */
  get firstSeq(): bigint | undefined {
    let min: bigint | undefined;
    for (const seq of this.#bySeq.keys()) if (min === undefined || seq < min) min = seq;
    for (const seq of this.#eventSeqs) if (min === undefined || seq < min) min = seq;
    return min;
  }

  /** The stored message with this seq, if held. */
  message(seq: bigint): MessageEntry | undefined {
    return this.#bySeq.get(seq);
  }

  /** Counts every change to the entries (added, removed, moved, status): a view renders again when it moves. */
  get revision(): number {
    return this.#revision;
  }

  /** The seq of the first message the reader has not seen (the "New" divider goes above it), if any. */
  get newFrom(): bigint | undefined {
    return this.#newFrom;
  }
  set newFrom(seq: bigint | undefined) {
    if (seq === this.#newFrom) return;
    this.#newFrom = seq;
    this.#revision++;
  }

  /** The rows to render, worked out once per revision. */
  get layout(): Layout {
    if (this.#layout?.revision !== this.#revision)
      this.#layout = { revision: this.#revision, layout: layoutEntries(this.#entries, this.#newFrom) };
    return this.#layout.layout;
  }

  get messageCount(): number {
    return this.layout.messageCount;
  }

  /**
   * Adds a stored message (a push, a history or recovery item). Returns false when its seq was already
   * held. A stored message matching one of our pending sends takes its place and keeps its status: it turns
   * "sent" only when the ack arrives.
   */
  addStored(m: StoredMessage): boolean {
    if (isAction(m)) {
      this.#applyAction(m);
      return false;
    }
    const held = this.#bySeq.get(m.seq);
    if (held !== undefined) {
      // A history page read after actions this view missed: its state is newer.
      if (m.stateSeq > held.stateSeq) {
        takeState(held, m);
        this.#revision++;
      }
      return false;
    }
    const own = this.#isMe(m.sender);
    const pending = own && m.clientMessageId !== "" ? this.#byClientId.get(m.clientMessageId) : undefined;
    if (pending !== undefined) {
      if (pending.seq !== undefined) return false;
      this.#remove(pending);
      pending.seq = m.seq;
      pending.sentAtMs = Number(m.sentAtMs);
      pending.attachments = attachmentViews(m.attachments);
      takeState(pending, m);
      if (m.replyQuote !== undefined)
        pending.replyQuote = { sender: m.replyQuote.sender, text: m.replyQuote.text, deleted: m.replyQuote.deleted };
      this.#revision++;
      this.#bySeq.set(m.seq, pending);
      this.#insert(pending);
      return false;
    }
    const entry: MessageEntry = {
      kind: "message",
      key: m.clientMessageId !== "" && own ? `c:${m.clientMessageId}` : `s:${m.seq}`,
      seq: m.seq,
      sender: m.sender,
      sentAtMs: Number(m.sentAtMs),
      text: m.text,
      clientMessageId: m.clientMessageId,
      own,
      status: "sent",
      error: undefined,
      order: 0,
      editedAtMs: 0,
      deleted: false,
      reactions: [],
      replyToSeq: m.replyToSeq,
      replyQuote:
        m.replyToSeq > 0n && m.replyQuote !== undefined
          ? { sender: m.replyQuote.sender, text: m.replyQuote.text, deleted: m.replyQuote.deleted }
          : undefined,
      stateSeq: 0n,
      attachments: attachmentViews(m.attachments),
    };
    takeState(entry, m);
    this.#bySeq.set(m.seq, entry);
    if (own && m.clientMessageId !== "") this.#byClientId.set(m.clientMessageId, entry);
    this.#insert(entry);
    return true;
  }

  /** An edit, deletion or reaction: updates its target if held and the event is newer than the target's state. */
  #applyAction(m: StoredMessage): void {
    this.#eventSeqs.add(m.seq);
    const target = this.#bySeq.get(m.action!.targetSeq);
    if (target === undefined) return;
    const next = applyAction(viewOfEntry(target), m);
    if (next === undefined) return;
    const before = `${target.deleted}\u0000${target.text}`;
    takeState(target, next);
    this.#revision++;
    if (`${target.deleted}\u0000${target.text}` !== before) {
      const quote = quoteOf(target);
      for (const e of this.#bySeq.values()) if (e.replyToSeq === target.seq) e.replyQuote = quote;
      const reply = this.replyTo;
      if (reply !== undefined && reply.seq === target.seq)
        this.replyTo = target.deleted ? undefined : { seq: reply.seq, sender: reply.sender, text: target.text };
    }
  }

  /** Adds our own message as pending, before the server has stored it (`reply`: the message it answers). */
  addPending(
    clientMessageId: string,
    sender: string,
    text: string,
    nowMs = Date.now(),
    reply?: ReplyTarget,
    attachments: ReadonlyArray<AttachmentView> = [],
  ): MessageEntry {
    const entry: MessageEntry = {
      kind: "message",
      key: `c:${clientMessageId}`,
      seq: undefined,
      sender,
      sentAtMs: nowMs,
      text,
      clientMessageId,
      own: true,
      status: "pending",
      error: undefined,
      order: nextOrder(),
      editedAtMs: 0,
      deleted: false,
      reactions: [],
      replyToSeq: reply?.seq ?? 0n,
      replyQuote:
        reply === undefined
          ? undefined
          : { sender: reply.sender, text: Array.from(reply.text).slice(0, QUOTE_CHARS).join(""), deleted: false },
      stateSeq: 0n,
      attachments,
    };
    this.#byClientId.set(clientMessageId, entry);
    this.#insert(entry);
    return entry;
  }

  /** The ack for one of our sends: the message is durably stored with this seq. */
  markSent(clientMessageId: string, seq: bigint, sentAtMs: bigint): void {
    const entry = this.#byClientId.get(clientMessageId);
    if (entry === undefined) return;
    entry.status = "sent";
    entry.error = undefined;
    entry.sentAtMs = Number(sentAtMs);
    this.#revision++;
    if (entry.seq === undefined) {
      const other = this.#bySeq.get(seq);
      this.#remove(entry);
      // The same message already came in under its seq without our id: keep that one.
      if (other !== undefined) return;
      entry.seq = seq;
      this.#bySeq.set(seq, entry);
      this.#insert(entry);
    }
  }

  markFailed(clientMessageId: string, error: string): void {
    const entry = this.#byClientId.get(clientMessageId);
    if (entry === undefined || entry.status === "sent") return;
    entry.status = "failed";
    entry.error = error;
    this.#revision++;
  }

  /** Drops one of our sends that was never stored (a failed one, before it is sent again). */
  remove(clientMessageId: string): void {
    const entry = this.#byClientId.get(clientMessageId);
    if (entry === undefined || entry.seq !== undefined) return;
    this.#byClientId.delete(clientMessageId);
    this.#remove(entry);
  }

  addNotice(text: string, tone: "info" | "warn" = "info", nowMs = Date.now()): NoticeEntry {
    const order = nextOrder();
    const entry: NoticeEntry = { kind: "notice", key: `n:${order}`, text, tone, atMs: nowMs, afterSeq: this.lastSeq, order };
    this.#insert(entry);
    return entry;
  }

  /** Forgets every stored message and notice (after "could not recover"); pending sends stay. */
  clearStored(): void {
    this.#entries = this.#entries.filter((e) => e.kind === "message" && e.seq === undefined);
    this.#revision++;
    this.#bySeq.clear();
    this.#eventSeqs.clear();
    this.replyTo = undefined;
    for (const [id, e] of this.#byClientId) if (e.seq !== undefined) this.#byClientId.delete(id);
    this.hasMore = true;
    this.loaded = false;
  }

  #insert(entry: Entry): void {
    // Almost every insert is an append; walk back from the end.
    let i = this.#entries.length;
    while (i > 0 && before(entry, this.#entries[i - 1]!)) i--;
    this.#entries.splice(i, 0, entry);
    this.#revision++;
  }

  #remove(entry: Entry): void {
    const i = this.#entries.indexOf(entry);
    if (i >= 0) this.#entries.splice(i, 1);
    this.#revision++;
  }
}
