// A room subscription delivers each seq once and in order: live pushes are held while a recovery is in
// flight, recovered and live messages are merged by seq, a gap asks for a recovery, and "not recovered"
// skips to the room's newest seq. The functions are pure: `Sub` below only threads the returned state
// through a test, as the machine does.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { type ChatMessage, ChatMessageSchema, RecoverResultSchema } from "../../../proto/gen/es/chat/v1/message_pb.js";
import { PresenceChange, PresenceEventSchema } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import { RoomJoinedSchema } from "../../../proto/gen/es/chat/v1/room_pb.js";
import { pushed, presenceApplied, recovered, recovering, rejoined, type RoomState, subscribed } from "./rooms.ts";

/** Threads a RoomState through the pure functions, as machine.ts does. */
class Sub {
  room: RoomState;
  constructor(joined: Parameters<typeof subscribed>[0]) {
    this.room = subscribed(joined, 1);
  }
  get lastSeq() {
    return this.room.lastSeq;
  }
  get isRecovering() {
    return this.room.recovering;
  }
  get memberCount() {
    return this.room.memberCount;
  }
  members() {
    return this.room.members;
  }
  beginRecovery() {
    this.room = recovering(this.room);
  }
  push(m: ChatMessage) {
    const r = pushed(this.room, m);
    this.room = r.room;
    return { deliver: r.deliver, gap: r.gap };
  }
  finishRecovery(result: Parameters<typeof recovered>[1]) {
    const out = recovered(this.room, result);
    this.room = out.room;
    return out;
  }
  applyPresence(e: Parameters<typeof presenceApplied>[1]) {
    this.room = presenceApplied(this.room, e);
  }
  rejoin(j: Parameters<typeof rejoined>[1]) {
    const r = rejoined(this.room, j);
    this.room = r.room;
    return r.presence;
  }
}

const CODE = "K7QX2M";
const joined = (lastSeq: number, members: string[]) =>
  create(RoomJoinedSchema, {
    room: { code: CODE, name: "r" },
    members: members.map((username) => ({ username })),
    memberCount: members.length,
    lastSeq: BigInt(lastSeq),
  });
const msg = (seq: number): ChatMessage => create(ChatMessageSchema, { roomCode: CODE, seq: BigInt(seq), sender: "a", text: `m${seq}` });
const seqs = (ms: ReadonlyArray<ChatMessage>) => ms.map((m) => Number(m.seq));
const recover = (recovered: boolean, from: number, to: number, lastSeq = to) =>
  create(RecoverResultSchema, {
    roomCode: CODE,
    recovered,
    lastSeq: BigInt(lastSeq),
    messages: recovered ? Array.from({ length: to - from + 1 }, (_, i) => msg(from + i)) : [],
  });

describe("rooms", () => {
  it("starts after the join's last_seq and delivers live messages once, in order", () => {
    const r = new Sub(joined(5, ["a"]));
    expect(r.push(msg(5)).deliver).toEqual([]);
    expect(seqs(r.push(msg(6)).deliver)).toEqual([6]);
    expect(r.push(msg(6)).deliver).toEqual([]);
    expect(seqs(r.push(msg(7)).deliver)).toEqual([7]);
    expect(r.lastSeq).toBe(7n);
  });

  it("holds live messages during recovery and merges them with the replay by seq", () => {
    const r = new Sub(joined(2, ["a"]));
    r.beginRecovery();
    // Live pushes after the rejoin (room was at 6 then) arrive before the recover result, out of order too.
    expect(r.push(msg(8)).deliver).toEqual([]);
    expect(r.push(msg(7)).deliver).toEqual([]);
    expect(r.push(msg(7)).deliver).toEqual([]);
    const out = r.finishRecovery(recover(true, 3, 7)); // the replay overlaps the live 7
    expect(seqs(out.deliver)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(out.recoveredCount).toBe(5);
    expect(out.previousLastSeq).toBe(2n);
    expect(out.gap).toBe(false);
    expect(r.isRecovering).toBe(false);
    expect(seqs(r.push(msg(9)).deliver)).toEqual([9]);
  });

  it("after 'not recovered' skips to the room's newest seq and keeps only later live messages", () => {
    const r = new Sub(joined(2, ["a"]));
    r.beginRecovery();
    r.push(msg(2000));
    r.push(msg(1999));
    const out = r.finishRecovery(recover(false, 0, 0, 1999));
    expect(out.recovered).toBe(false);
    expect(out.previousLastSeq).toBe(2n);
    expect(seqs(out.deliver)).toEqual([2000]);
    expect(r.lastSeq).toBe(2000n);
  });

  it("a hole in the live stream asks for a recovery and holds the message until it is filled", () => {
    const r = new Sub(joined(0, ["a"]));
    expect(seqs(r.push(msg(1)).deliver)).toEqual([1]);
    const res = r.push(msg(3));
    expect(res).toEqual({ deliver: [], gap: true });
    expect(r.isRecovering).toBe(true);
    expect(r.push(msg(4)).deliver).toEqual([]);
    const out = r.finishRecovery(recover(true, 2, 2));
    expect(seqs(out.deliver)).toEqual([2, 3, 4]);
    expect(out.gap).toBe(false);
  });

  it("reports a gap that a recovery did not close", () => {
    const r = new Sub(joined(0, ["a"]));
    r.beginRecovery();
    r.push(msg(5));
    const out = r.finishRecovery(recover(true, 1, 2));
    expect(seqs(out.deliver)).toEqual([1, 2]);
    expect(out.gap).toBe(true);
    expect(r.isRecovering).toBe(true);
    expect(seqs(r.finishRecovery(recover(true, 3, 4)).deliver)).toEqual([3, 4, 5]);
  });

  it("tracks members from the snapshot and presence events, and reports the difference on a rejoin", () => {
    const r = new Sub(joined(0, ["bob", "alice"]));
    expect(r.members()).toEqual(["alice", "bob"]);
    r.applyPresence(create(PresenceEventSchema, { roomCode: CODE, username: "carol", change: PresenceChange.JOINED, memberCount: 3 }));
    r.applyPresence(create(PresenceEventSchema, { roomCode: CODE, username: "bob", change: PresenceChange.LEFT, memberCount: 2 }));
    expect(r.members()).toEqual(["alice", "carol"]);
    expect(r.memberCount).toBe(2);
    const diff = r.rejoin(joined(0, ["alice", "dave"]));
    expect(diff.map((e) => [e.username, e.change])).toEqual([
      ["carol", PresenceChange.LEFT],
      ["dave", PresenceChange.JOINED],
    ]);
    expect(r.members()).toEqual(["alice", "dave"]);
  });

  it("never changes the state it is given", () => {
    const before = subscribed(joined(1, ["a"]), 1);
    const copy = structuredClone(before);
    pushed(before, msg(3));
    recovered(recovering(before), recover(true, 2, 2));
    rejoined(before, joined(1, ["b"]));
    expect(before).toEqual(copy);
  });
});
