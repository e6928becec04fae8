// A room subscription delivers each seq once and in order: live pushes are held while a recovery is in
// flight, recovered and live messages are merged by seq, a gap asks for a recovery, and "not recovered"
// skips to the room's newest seq.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { type ChatMessage, ChatMessageSchema, RecoverResultSchema } from "../../../proto/gen/es/chat/v1/message_pb.js";
import { PresenceChange, PresenceEventSchema } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import { RoomJoinedSchema } from "../../../proto/gen/es/chat/v1/room_pb.js";
import { RoomSubscription } from "./room.ts";

const CODE = "K7QX2M";
const joined = (lastSeq: number, members: string[]) =>
  create(RoomJoinedSchema, { room: { code: CODE, name: "r" }, members: members.map((username) => ({ username })), memberCount: members.length, lastSeq: BigInt(lastSeq) });
const msg = (seq: number): ChatMessage => create(ChatMessageSchema, { roomCode: CODE, seq: BigInt(seq), sender: "a", text: `m${seq}` });
const seqs = (ms: ChatMessage[]) => ms.map((m) => Number(m.seq));
const recover = (recovered: boolean, from: number, to: number, lastSeq = to) =>
  create(RecoverResultSchema, { roomCode: CODE, recovered, lastSeq: BigInt(lastSeq), messages: recovered ? Array.from({ length: to - from + 1 }, (_, i) => msg(from + i)) : [] });

describe("RoomSubscription", () => {
  it("starts after the join's last_seq and delivers live messages once, in order", () => {
    const r = new RoomSubscription(joined(5, ["a"]));
    expect(r.push(msg(5)).deliver).toEqual([]);
    expect(seqs(r.push(msg(6)).deliver)).toEqual([6]);
    expect(r.push(msg(6)).deliver).toEqual([]);
    expect(seqs(r.push(msg(7)).deliver)).toEqual([7]);
    expect(r.lastSeq).toBe(7n);
  });

  it("holds live messages during recovery and merges them with the replay by seq", () => {
    const r = new RoomSubscription(joined(2, ["a"]));
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
    const r = new RoomSubscription(joined(2, ["a"]));
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
    const r = new RoomSubscription(joined(0, ["a"]));
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
    const r = new RoomSubscription(joined(0, ["a"]));
    r.beginRecovery();
    r.push(msg(5));
    const out = r.finishRecovery(recover(true, 1, 2));
    expect(seqs(out.deliver)).toEqual([1, 2]);
    expect(out.gap).toBe(true);
    expect(r.isRecovering).toBe(true);
    expect(seqs(r.finishRecovery(recover(true, 3, 4)).deliver)).toEqual([3, 4, 5]);
  });

  it("tracks members from the snapshot and presence events, and reports the difference on a rejoin", () => {
    const r = new RoomSubscription(joined(0, ["bob", "alice"]));
    expect(r.members()).toEqual(["alice", "bob"]);
    r.applyPresence(create(PresenceEventSchema, { roomCode: CODE, username: "carol", change: PresenceChange.JOINED, memberCount: 3 }));
    r.applyPresence(create(PresenceEventSchema, { roomCode: CODE, username: "bob", change: PresenceChange.LEFT, memberCount: 2 }));
    expect(r.members()).toEqual(["alice", "carol"]);
    expect(r.memberCount).toBe(2);
    const diff = r.rejoin(joined(0, ["alice", "dave"]));
    expect(diff.map((e) => [e.username, e.change])).toEqual([["carol", PresenceChange.LEFT], ["dave", PresenceChange.JOINED]]);
    expect(r.members()).toEqual(["alice", "dave"]);
  });
});
