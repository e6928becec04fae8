// The timeline of one conversation (a room or a DM) as the component shows it: messages ordered by seq and
// deduplicated by seq, own sends pending until acked, and notices placed after the messages seen so far.
// Plain TypeScript with no DOM, so it is unit-tested in Node. What a render needs beyond the entries (grouping,
// the newest own message, the message count) is worked out once per change in one pass (`layout`), so a
// render is linear in the number of entries.

export type MessageStatus = "pending" | "sent" | "failed";

export interface MessageEntry {
  readonly kind: "message";
  /** Stable key for keyed rendering: the client message id when known, else the seq. */
  readonly key: string;
  seq: bigint | undefined;
  readonly sender: string;
  sentAtMs: number;
  readonly text: string;
  readonly clientMessageId: string;
  readonly own: boolean;
  status: MessageStatus;
  /** Why a send failed, in words. */
  error: string | undefined;
  readonly order: number;
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

/** What a stored message looks like to the timeline (a ChatMessage or a DirectMessage). */
export interface StoredMessage {
  readonly seq: bigint;
  readonly sender: string;
  readonly sentAtMs: bigint;
  readonly text: string;
  readonly clientMessageId: string;
}

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
  const rows: Array<{ entry: Entry; grouped: boolean; lastOfGroup: boolean; lastOwn: boolean; day: number | undefined; firstNew: boolean }> = [];
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
      rows.push({ entry, grouped: run && entry.sentAtMs - (prev as MessageEntry).sentAtMs < GROUP_WINDOW_MS, lastOfGroup: true, lastOwn: false, day: newDay ? day : undefined, firstNew });
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
    return max;
  }

  /** Lowest seq held, undefined when none. */
  get firstSeq(): bigint | undefined {
    let min: bigint | undefined;
    for (const seq of this.#bySeq.keys()) if (min === undefined || seq < min) min = seq;
    return min;
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
    if (this.#layout?.revision !== this.#revision) this.#layout = { revision: this.#revision, layout: layoutEntries(this.#entries, this.#newFrom) };
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
    if (this.#bySeq.has(m.seq)) return false;
    const own = this.#isMe(m.sender);
    const pending = own && m.clientMessageId !== "" ? this.#byClientId.get(m.clientMessageId) : undefined;
    if (pending !== undefined) {
      if (pending.seq !== undefined) return false;
      this.#remove(pending);
      pending.seq = m.seq;
      pending.sentAtMs = Number(m.sentAtMs);
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
    };
    this.#bySeq.set(m.seq, entry);
    if (own && m.clientMessageId !== "") this.#byClientId.set(m.clientMessageId, entry);
    this.#insert(entry);
    return true;
  }

  /** Adds our own message as pending, before the server has stored it. */
  addPending(clientMessageId: string, sender: string, text: string, nowMs = Date.now()): MessageEntry {
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
