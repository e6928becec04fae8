// One subscribed room: its member snapshot, the highest seq delivered in order, and the buffer that keeps
// live pushes in order while a recovery is in flight. No I/O: the client feeds it frames and emits what it
// returns, so ordering and de-duplication are tested here without sockets.
import { create } from "@bufbuild/protobuf";
import type { ChatMessage, RecoverResult } from "../../../proto/gen/es/chat/v1/message_pb.js";
import { type PresenceEvent, PresenceChange, PresenceEventSchema } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import type { RoomJoined } from "../../../proto/gen/es/chat/v1/room_pb.js";

export interface PushResult {
  /** Messages to deliver now, in seq order. */
  readonly deliver: ChatMessage[];
  /** A seq was skipped: the caller must start a recovery (the message is buffered meanwhile). */
  readonly gap: boolean;
}

export interface RecoveryOutcome {
  /** Messages to deliver, recovered ones first then buffered live ones, in seq order, each seq once. */
  readonly deliver: ChatMessage[];
  readonly recovered: boolean;
  /** How many of `deliver` came from the RecoverResult. */
  readonly recoveredCount: number;
  /** lastSeq before the recovery (what the app had seen). */
  readonly previousLastSeq: bigint;
  /** Buffered messages still leave a gap after this result: recover again. */
  readonly gap: boolean;
}

export class RoomSubscription {
  readonly code: string;
  joined: RoomJoined;
  memberCount: number;
  lastSeq: bigint;
  private readonly memberSet = new Set<string>();
  private recovering = false;
  private buffer: ChatMessage[] = [];

  /** A first join: messages up to the reply's last_seq are history, later ones arrive live. */
  constructor(joined: RoomJoined) {
    this.code = joined.room?.code ?? "";
    this.joined = joined;
    this.memberCount = joined.memberCount;
    this.lastSeq = joined.lastSeq;
    for (const m of joined.members) this.memberSet.add(m.username);
  }

  get isRecovering(): boolean {
    return this.recovering;
  }

  members(): string[] {
    return [...this.memberSet].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * A later join reply for the same room (a rejoin after a reconnect, or joinRoom again). Keeps lastSeq.
   * Returns presence events for the difference between the old and the new member list, so an app that
   * follows presence events stays right across a reconnect.
   */
  rejoin(joined: RoomJoined): PresenceEvent[] {
    this.joined = joined;
    this.memberCount = joined.memberCount;
    const next = new Set(joined.members.map((m) => m.username));
    const events: PresenceEvent[] = [];
    for (const u of this.memberSet) {
      if (!next.has(u)) events.push(create(PresenceEventSchema, { roomCode: this.code, username: u, change: PresenceChange.LEFT, memberCount: joined.memberCount }));
    }
    for (const u of next) {
      if (!this.memberSet.has(u)) events.push(create(PresenceEventSchema, { roomCode: this.code, username: u, change: PresenceChange.JOINED, memberCount: joined.memberCount }));
    }
    this.memberSet.clear();
    for (const u of next) this.memberSet.add(u);
    return events;
  }

  applyPresence(e: PresenceEvent): void {
    if (e.change === PresenceChange.JOINED) this.memberSet.add(e.username);
    else if (e.change === PresenceChange.LEFT) this.memberSet.delete(e.username);
    this.memberCount = e.memberCount;
  }

  /** From now until finishRecovery, live pushes are held back. */
  beginRecovery(): void {
    this.recovering = true;
  }

  /** A live message push. */
  push(m: ChatMessage): PushResult {
    if (m.seq <= this.lastSeq) return { deliver: [], gap: false };
    if (this.recovering) {
      this.hold(m);
      return { deliver: [], gap: false };
    }
    if (m.seq === this.lastSeq + 1n) {
      this.lastSeq = m.seq;
      return { deliver: [m], gap: false };
    }
    // A hole in the live stream: hold this one and let the caller recover what is missing.
    this.recovering = true;
    this.hold(m);
    return { deliver: [], gap: true };
  }

  /** Applies a RecoverResult, then releases the buffered live messages that follow on contiguously. */
  finishRecovery(result: RecoverResult): RecoveryOutcome {
    const previousLastSeq = this.lastSeq;
    const deliver: ChatMessage[] = [];
    let recoveredCount = 0;
    if (result.recovered) {
      for (const m of [...result.messages].sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0))) {
        if (m.seq <= this.lastSeq) continue;
        // The server replays contiguously; should it ever not, take what it gave rather than stall.
        this.lastSeq = m.seq;
        deliver.push(m);
        recoveredCount++;
      }
    } else {
      // Nothing replayed: the app reloads history. Continue from the room's newest seq.
      this.lastSeq = result.lastSeq;
    }
    const gap = this.drain(deliver);
    this.recovering = gap;
    return { deliver, recovered: result.recovered, recoveredCount, previousLastSeq, gap };
  }

  /** A recovery that could not run (e.g. the connection dropped): keep buffering; the next one covers it. */
  private hold(m: ChatMessage): void {
    if (this.buffer.some((b) => b.seq === m.seq)) return;
    this.buffer.push(m);
  }

  private drain(into: ChatMessage[]): boolean {
    this.buffer.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
    let i = 0;
    for (; i < this.buffer.length; i++) {
      const m = this.buffer[i]!;
      if (m.seq <= this.lastSeq) continue;
      if (m.seq !== this.lastSeq + 1n) break;
      this.lastSeq = m.seq;
      into.push(m);
    }
    this.buffer = this.buffer.slice(i);
    return this.buffer.length > 0;
  }
}
