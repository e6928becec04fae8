// Rooms and their recovery, as pure data: one subscribed room's member list, the highest seq delivered in
// order, and the buffer that keeps live pushes in order while a recovery is in flight. Every function returns
// a new RoomState and what to deliver; the machine (machine.ts) decides which requests follow.
import { create } from "@bufbuild/protobuf";
import type { ChatMessage, RecoverResult } from "../../../proto/gen/es/chat/v1/message_pb.js";
import { type PresenceEvent, PresenceChange, PresenceEventSchema } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import type { RoomJoined } from "../../../proto/gen/es/chat/v1/room_pb.js";

export interface RoomState {
  readonly code: string;
  /** Which subscription this is: a room left and joined again is a new one, so late replies for the old one are ignored. */
  readonly sub: number;
  readonly joined: RoomJoined;
  /** Member usernames, sorted. */
  readonly members: ReadonlyArray<string>;
  readonly memberCount: number;
  /** The highest seq delivered in order. */
  readonly lastSeq: bigint;
  /** Live pushes are held in `buffer` until a recovery (or the rejoin after a reconnect) finishes. */
  readonly recovering: boolean;
  readonly buffer: ReadonlyArray<ChatMessage>;
}

export interface PushResult {
  readonly room: RoomState;
  /** Messages to deliver now, in seq order. */
  readonly deliver: ReadonlyArray<ChatMessage>;
  /** A seq was skipped: the caller must start a recovery (the message is buffered meanwhile). */
  readonly gap: boolean;
}

export interface RecoveryOutcome {
  readonly room: RoomState;
  /** Messages to deliver, recovered ones first then buffered live ones, in seq order, each seq once. */
  readonly deliver: ReadonlyArray<ChatMessage>;
  readonly recovered: boolean;
  /** How many of `deliver` came from the RecoverResult. */
  readonly recoveredCount: number;
  /** lastSeq before the recovery (what the app had seen). */
  readonly previousLastSeq: bigint;
  /** Buffered messages still leave a gap after this result: recover again. */
  readonly gap: boolean;
}

const bySeq = (a: ChatMessage, b: ChatMessage): number => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0);
const sorted = (names: Iterable<string>): string[] => [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** A first join: messages up to the reply's last_seq are history, later ones arrive live. */
export const subscribed = (joined: RoomJoined, sub: number): RoomState => ({
  code: joined.room?.code ?? "",
  sub,
  joined,
  members: sorted(new Set(joined.members.map((m) => m.username))),
  memberCount: joined.memberCount,
  lastSeq: joined.lastSeq,
  recovering: false,
  buffer: [],
});

/**
 * A later join reply for the same room (a rejoin after a reconnect, or joinRoom again). Keeps lastSeq.
 * Returns presence events for the difference between the old and the new member list, so an app that
 * follows presence events stays right across a reconnect.
 */
export const rejoined = (room: RoomState, joined: RoomJoined): { room: RoomState; presence: PresenceEvent[] } => {
  const before = new Set(room.members);
  const after = new Set(joined.members.map((m) => m.username));
  const event = (username: string, change: PresenceChange) =>
    create(PresenceEventSchema, { roomCode: room.code, username, change, memberCount: joined.memberCount });
  const presence = [
    ...[...before].filter((u) => !after.has(u)).map((u) => event(u, PresenceChange.LEFT)),
    ...[...after].filter((u) => !before.has(u)).map((u) => event(u, PresenceChange.JOINED)),
  ];
  return { room: { ...room, joined, memberCount: joined.memberCount, members: sorted(after) }, presence };
};

export const presenceApplied = (room: RoomState, e: PresenceEvent): RoomState => {
  const members = new Set(room.members);
  if (e.change === PresenceChange.JOINED) members.add(e.username);
  else if (e.change === PresenceChange.LEFT) members.delete(e.username);
  return { ...room, members: sorted(members), memberCount: e.memberCount };
};

/** From now until a recovery finishes, live pushes are held back. */
export const recovering = (room: RoomState): RoomState => (room.recovering ? room : { ...room, recovering: true });

const held = (room: RoomState, m: ChatMessage): RoomState =>
  room.buffer.some((b) => b.seq === m.seq) ? room : { ...room, buffer: [...room.buffer, m] };

/** A live message push. */
export const pushed = (room: RoomState, m: ChatMessage): PushResult => {
  if (m.seq <= room.lastSeq) return { room, deliver: [], gap: false };
  if (room.recovering) return { room: held(room, m), deliver: [], gap: false };
  if (m.seq === room.lastSeq + 1n) return { room: { ...room, lastSeq: m.seq }, deliver: [m], gap: false };
  // A hole in the live stream: hold this one and let the caller recover what is missing.
  return { room: held({ ...room, recovering: true }, m), deliver: [], gap: true };
};

/** Applies a RecoverResult, then releases the buffered live messages that follow on contiguously. */
export const recovered = (room: RoomState, result: RecoverResult): RecoveryOutcome => {
  const previousLastSeq = room.lastSeq;
  const deliver: ChatMessage[] = [];
  let lastSeq = room.lastSeq;
  let recoveredCount = 0;
  if (result.recovered) {
    for (const m of [...result.messages].sort(bySeq)) {
      if (m.seq <= lastSeq) continue;
      // The server replays contiguously; should it ever not, take what it gave rather than stall.
      lastSeq = m.seq;
      deliver.push(m);
      recoveredCount++;
    }
  } else {
    // Nothing replayed: the app reloads history. Continue from the room's newest seq.
    lastSeq = result.lastSeq;
  }
  const buffer = [...room.buffer].sort(bySeq);
  let i = 0;
  for (; i < buffer.length; i++) {
    const m = buffer[i]!;
    if (m.seq <= lastSeq) continue;
    if (m.seq !== lastSeq + 1n) break;
    lastSeq = m.seq;
    deliver.push(m);
  }
  const rest = buffer.slice(i);
  const gap = rest.length > 0;
  return {
    room: { ...room, lastSeq, buffer: rest, recovering: gap },
    deliver,
    recovered: result.recovered,
    recoveredCount,
    previousLastSeq,
    gap,
  };
};
