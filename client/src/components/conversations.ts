// The conversations half of <chat-app>'s controller: joined rooms, DMs, who is online and which view is
// open; the SDK's pushes that change them (messages, presence, typing, DMs), history pages, and sending.
// ChatController owns one and gives it the client and the notices through ConversationsHost.
// Over 400 lines: one method per SDK push or user action on conversations; the split planned next is history
// paging and attachments sending into their own controllers.
import type { ChatClient, ChatMessage, Conversation, DirectMessage, HistoryOptions, RoomJoined, UploadedFile } from "../sdk/index.ts";
import { describeError, PresenceChange } from "../sdk/index.ts";
import { type Active, type DirectView, nameKey, type RoomView } from "./chat-state.ts";
import type { ChatMessageSendDetail } from "./events.ts";
import { pageHidden } from "./attention.ts";
import { mentions } from "./markup.ts";
import { type AttachmentView, attachmentViews, type ReplyTarget, type StoredMessage, Timeline } from "./timeline.ts";
import { TypingSender } from "./typing-sender.ts";

export interface ConversationsHost {
  client(): ChatClient | undefined;
  me(): string | undefined;
  /** Something shown changed: render again. */
  changed(): void;
  toast(text: string): void;
  /** Says `text` in the polite live region. */
  announce(text: string): void;
  /** The joined rooms, the DMs or the open view changed: remember them for a reload. */
  remember(patch: { rooms?: string[]; dms?: string[]; active?: Active }): void;
  /** A message was handed to the SDK. */
  sent(detail: ChatMessageSendDetail): void;
  /** A message from someone else arrived: a desktop notification when the page is hidden (and they are on). */
  notify(title: string, body: string, conversation: string, open: () => void): void;
}

const byName = (a: string, b: string): number => nameKey(a).localeCompare(nameKey(b));
const HISTORY_PAGE = 50;
const CATCH_UP_PAGE = 200;

export class Conversations {
  readonly #host: ConversationsHost;
  readonly rooms = new Map<string, RoomView>();
  /** By the peer's name key. */
  readonly dms = new Map<string, DirectView>();
  /** Other users online now, sorted by name. */
  online: string[] = [];
  active: Active = { kind: "lobby" };
  readonly typing: TypingSender;

  constructor(host: ConversationsHost) {
    this.#host = host;
    this.typing = new TypingSender(
      () => host.client(),
      (code) => this.rooms.has(code),
    );
  }

  get activeRoom(): RoomView | undefined {
    return this.active.kind === "room" ? this.rooms.get(this.active.code) : undefined;
  }

  get activeDirect(): DirectView | undefined {
    return this.active.kind === "dm" ? this.dms.get(nameKey(this.active.peer)) : undefined;
  }

  isMe(name: string): boolean {
    const me = this.#host.me();
    return me !== undefined && nameKey(name) === nameKey(me);
  }

  isOnline(name: string): boolean {
    const k = nameKey(name);
    return this.isMe(name) || this.online.some((u) => nameKey(u) === k);
  }

  clear(): void {
    this.typing.reset();
    this.rooms.clear();
    this.dms.clear();
    this.online = [];
    this.active = { kind: "lobby" };
  }

  /** Remembers the joined rooms and DMs. */
  saveLists(): void {
    this.#host.remember({ rooms: [...this.rooms.keys()], dms: [...this.dms.values()].map((d) => d.peer) });
  }

  // ---- views --------------------------------------------------------------------------------------------

  open(active: Active): void {
    const typingIn = this.typing.room;
    if (typingIn !== undefined && !(active.kind === "room" && active.code === typingIn)) this.typing.stop();
    // The conversation being left was read up to its end: its "New" divider goes.
    const left = this.activeRoom ?? this.activeDirect;
    if (left !== undefined) left.timeline.newFrom = undefined;
    this.active = active;
    if (active.kind === "room") {
      const room = this.rooms.get(active.code);
      if (room !== undefined) {
        this.#markRead(room);
        if (!room.timeline.loaded) void this.loadRoomHistory(room);
      }
    } else if (active.kind === "dm") {
      const dm = this.direct(active.peer);
      this.#markRead(dm);
      if (!dm.timeline.loaded) void this.#loadDirectHistory(dm);
      this.saveLists();
    }
    this.#host.remember({ active });
  }

  /** The page came back into view: the open conversation's messages that came meanwhile are read now. */
  pageShown(): void {
    const view = this.activeRoom ?? this.activeDirect;
    if (view !== undefined && view.unread > 0) this.#markRead(view);
  }

  /** Messages from others in every conversation that were not in view when they came (the title's count). */
  get unreadTotal(): number {
    let n = 0;
    for (const r of this.rooms.values()) n += r.unread;
    for (const d of this.dms.values()) n += d.unread;
    return n;
  }

  /** Shown now: the "New" divider goes above the first message that was unread. */
  #markRead(view: RoomView | DirectView): void {
    if (view.unreadFrom !== undefined) view.timeline.newFrom = view.unreadFrom;
    view.unread = 0;
    view.mentions = 0;
    view.unreadFrom = undefined;
  }

  /** Counts a message from someone else that was not in view (hidden page, or another conversation). */
  #countUnread(view: RoomView | DirectView, m: { readonly seq: bigint; readonly text: string }): void {
    view.unread++;
    if (mentions(m.text, this.#host.me() ?? "")) view.mentions++;
    view.unreadFrom ??= m.seq;
  }

  /** A room the server says we joined (created, joined, or rejoined): its view, made once. */
  adoptRoom(joined: RoomJoined): RoomView {
    const code = joined.room?.code ?? "";
    let room = this.rooms.get(code);
    if (room === undefined) {
      room = {
        code,
        name: joined.room?.name ?? "",
        persistent: joined.room?.persistent ?? false,
        members: [],
        memberCount: 0,
        timeline: new Timeline((n) => this.isMe(n)),
        typing: [],
        unread: 0,
        mentions: 0,
        unreadFrom: undefined,
        loadingOlder: false,
      };
      this.rooms.set(code, room);
    }
    room.members = joined.members.map((m) => m.username);
    room.memberCount = joined.memberCount;
    this.saveLists();
    return room;
  }

  /** Drops a room here (left, or gone on the server); the lobby opens if it was the open one. */
  dropRoom(code: string): void {
    if (this.typing.room === code) this.typing.stop();
    this.rooms.delete(code);
    if (this.active.kind === "room" && this.active.code === code) this.active = { kind: "lobby" };
    this.saveLists();
  }

  /** The DM view with `peer`, made on first use. */
  direct(peer: string): DirectView {
    let dm = this.dms.get(nameKey(peer));
    if (dm === undefined) {
      dm = { peer, timeline: new Timeline((n) => this.isMe(n)), unread: 0, mentions: 0, unreadFrom: undefined, loadingOlder: false };
      this.dms.set(nameKey(peer), dm);
    }
    return dm;
  }

  // ---- sending ------------------------------------------------------------------------------------------

  /** Sends `text` (and the uploaded `files`) to the open room or DM. Returns an error in words, or undefined. */
  send(text: string, files: ReadonlyArray<UploadedFile> = []): string | undefined {
    const client = this.#host.client();
    const me = this.#host.me();
    if (client === undefined || me === undefined) return "Not connected.";
    if (text.trim() === "" && files.length === 0) return undefined;
    const attachments = files.map((f) => f.id);
    const views = attachmentViews(files);
    const room = this.activeRoom;
    const dm = this.activeDirect;
    let detail: ChatMessageSendDetail;
    try {
      if (room !== undefined) {
        this.typing.stop();
        const reply = room.timeline.replyTo;
        const { clientMessageId, acked } = client.send(
          room.code,
          text,
          reply === undefined ? { attachments } : { replyTo: reply.seq, attachments },
        );
        this.#track(room.timeline, clientMessageId, me, text, acked, reply, views);
        detail = { room: room.code, clientMessageId };
      } else if (dm !== undefined) {
        const reply = dm.timeline.replyTo;
        const { clientMessageId, acked } = client.sendDirect(
          dm.peer,
          text,
          reply === undefined ? { attachments } : { replyTo: reply.seq, attachments },
        );
        this.#track(dm.timeline, clientMessageId, me, text, acked, reply, views);
        detail = { peer: dm.peer, clientMessageId };
      } else {
        return "Open a room or a conversation first.";
      }
    } catch (e) {
      return describeError(e);
    }
    this.#host.changed();
    this.#host.sent(detail);
    return undefined;
  }

  /** Sends a failed message again (a new send: the failed one was never stored). */
  retry(clientMessageId: string, text: string): string | undefined {
    const t = this.activeRoom?.timeline ?? this.activeDirect?.timeline;
    t?.remove(clientMessageId);
    return this.send(text);
  }

  #track(
    t: Timeline,
    clientMessageId: string,
    me: string,
    text: string,
    acked: Promise<{ readonly seq: bigint; readonly sentAtMs: bigint }>,
    reply?: ReplyTarget,
    attachments: ReadonlyArray<AttachmentView> = [],
  ): void {
    t.addPending(clientMessageId, me, text, Date.now(), reply, attachments);
    t.replyTo = undefined;
    acked.then(
      (ack) => this.#update(() => t.markSent(clientMessageId, ack.seq, ack.sentAtMs)),
      (e: unknown) => this.#update(() => t.markFailed(clientMessageId, describeError(e))),
    );
  }

  // ---- message actions ----------------------------------------------------------------------------------

  /** Where the open conversation is, for the SDK's action methods. */
  #where(): Conversation | undefined {
    const room = this.activeRoom;
    if (room !== undefined) return { room: room.code };
    const dm = this.activeDirect;
    return dm === undefined ? undefined : { peer: dm.peer };
  }

  /** Starts (or with undefined, cancels) a reply to a message of the open conversation. */
  replyTo(target: ReplyTarget | undefined): void {
    const t = this.activeRoom?.timeline ?? this.activeDirect?.timeline;
    if (t === undefined) return;
    t.replyTo = target;
    this.#host.changed();
  }

  /** Edits, deletes or reacts in the open conversation; the result shows when the action event arrives. */
  act(run: (client: ChatClient, where: Conversation) => { readonly acked: Promise<unknown> }): void {
    const client = this.#host.client();
    const where = this.#where();
    if (client === undefined || where === undefined) return;
    run(client, where).acked.catch((e: unknown) => this.#host.toast(describeError(e)));
  }

  // ---- history ------------------------------------------------------------------------------------------

  async loadOlder(): Promise<void> {
    const room = this.activeRoom;
    const dm = this.activeDirect;
    if (room !== undefined) await this.loadRoomHistory(room, true);
    else if (dm !== undefined) await this.#loadDirectHistory(dm, true);
  }

  loadRoomHistory(room: RoomView, older = false): Promise<void> {
    return this.#loadHistory(room, older, (client, opts) => client.history(room.code, opts));
  }

  #loadDirectHistory(dm: DirectView, older = false): Promise<void> {
    return this.#loadHistory(dm, older, (client, opts) => client.directHistory(dm.peer, opts));
  }

  /** The newest page of a room or DM, or (older) the page before its first message; one load at a time per view. */
  async #loadHistory(
    view: RoomView | DirectView,
    older: boolean,
    fetchPage: (
      client: ChatClient,
      opts: HistoryOptions,
    ) => Promise<{ readonly messages: readonly StoredMessage[]; readonly hasMore: boolean }>,
  ): Promise<void> {
    const client = this.#host.client();
    if (client === undefined || view.loadingOlder) return;
    view.loadingOlder = true;
    this.#host.changed();
    try {
      const anchor = older ? view.timeline.firstSeq : undefined;
      const page = await fetchPage(
        client,
        anchor === undefined ? { limit: HISTORY_PAGE } : { anchorSeq: anchor, direction: "backward", limit: HISTORY_PAGE },
      );
      for (const m of page.messages) view.timeline.addStored(m);
      view.timeline.hasMore = page.hasMore;
      view.timeline.loaded = true;
    } catch (e) {
      this.#host.toast(describeError(e));
    } finally {
      view.loadingOlder = false;
      this.#host.changed();
    }
  }

  /** DMs have no recover request: after a reconnect, read each open conversation forward from its last seq. */
  async catchUpDirect(): Promise<void> {
    const client = this.#host.client();
    if (client === undefined) return;
    for (const dm of this.dms.values()) {
      if (!dm.timeline.loaded) continue;
      try {
        const page = await client.directHistory(dm.peer, { anchorSeq: dm.timeline.lastSeq, direction: "forward", limit: CATCH_UP_PAGE });
        for (const m of page.messages) this.#addDirect(dm, m);
      } catch {
        // The next reconnect tries again.
      }
    }
    this.#host.changed();
  }

  async refreshOnline(): Promise<void> {
    const client = this.#host.client();
    if (client === undefined) return;
    try {
      this.online = (await client.onlineUsers(true)).filter((u) => !this.isMe(u));
      this.#host.changed();
    } catch {
      // Presence is a hint; the next reconnect asks again.
    }
  }

  // ---- pushes from the SDK ------------------------------------------------------------------------------

  onMessage(m: ChatMessage): void {
    const room = this.rooms.get(m.roomCode);
    if (room === undefined) return;
    const added = room.timeline.addStored(m);
    // A new message ends its sender's typing (the server clears it too); an edit or a reaction does not.
    if (added) room.typing = room.typing.filter((u) => nameKey(u) !== nameKey(m.sender));
    if (added && !this.isMe(m.sender)) {
      const open = this.active.kind === "room" && this.active.code === room.code;
      if (!open || pageHidden()) this.#countUnread(room, m);
      if (open) this.#host.announce(`${m.sender}: ${m.text}`);
      this.#host.notify(`${m.sender} in #${room.name || room.code}`, m.text, `r:${room.code}`, () =>
        this.#openFromNotification({ kind: "room", code: room.code }),
      );
    }
    this.#host.changed();
  }

  /** A member joined or left a room; returns the notice to show in it, if any. */
  onPresence(code: string, username: string, change: PresenceChange, memberCount: number): string | undefined {
    const room = this.rooms.get(code);
    if (room === undefined) return undefined;
    room.memberCount = memberCount;
    const k = nameKey(username);
    if (change === PresenceChange.JOINED) {
      if (!room.members.some((u) => nameKey(u) === k)) room.members = [...room.members, username].sort(byName);
      return `${username} joined`;
    }
    if (change === PresenceChange.LEFT) {
      room.members = room.members.filter((u) => nameKey(u) !== k);
      room.typing = room.typing.filter((u) => nameKey(u) !== k);
      return `${username} left`;
    }
    return undefined;
  }

  onTyping(code: string, username: string, typing: boolean): void {
    const room = this.rooms.get(code);
    if (room === undefined || this.isMe(username)) return;
    const others = room.typing.filter((u) => nameKey(u) !== nameKey(username));
    room.typing = typing ? [...others, username] : others;
  }

  onDirect(m: DirectMessage): void {
    const peer = this.isMe(m.sender) ? m.recipient : m.sender;
    this.#addDirect(this.direct(peer), m);
    this.saveLists();
    this.#host.changed();
  }

  #addDirect(dm: DirectView, m: DirectMessage): void {
    const added = dm.timeline.addStored(m);
    if (added && !this.isMe(m.sender)) {
      const open = this.active.kind === "dm" && nameKey(this.active.peer) === nameKey(dm.peer);
      if (!open || pageHidden()) this.#countUnread(dm, m);
      if (open) this.#host.announce(`${m.sender} (direct): ${m.text}`);
      this.#host.notify(`${m.sender} (direct message)`, m.text, `d:${dm.peer}`, () =>
        this.#openFromNotification({ kind: "dm", peer: dm.peer }),
      );
    }
  }

  #openFromNotification(to: Active): void {
    this.open(to);
    this.#host.changed();
  }

  onUserPresence(username: string, online: boolean): void {
    if (this.isMe(username)) return;
    const others = this.online.filter((u) => nameKey(u) !== nameKey(username));
    this.online = online ? [...others, username].sort(byName) : others;
  }

  #update(run: () => void): void {
    run();
    this.#host.changed();
  }
}
