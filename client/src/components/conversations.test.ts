// What Conversations counts for the reader, without a socket: unread messages and @mentions per room and DM
// (not for the open one, not for the reader's own), the title's total, the "New" divider set on opening
// and cleared on leaving, and a desktop notification asked for each message from someone else.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ChatMessageSchema } from "../../../proto/gen/es/chat/v1/message_pb.js";
import { DirectMessageSchema } from "../../../proto/gen/es/chat/v1/direct_pb.js";
import { RoomJoinedSchema } from "../../../proto/gen/es/chat/v1/room_pb.js";
import { Conversations } from "./conversations.ts";

const setup = () => {
  const notified: string[] = [];
  const conv = new Conversations({
    client: () => undefined,
    me: () => "Ada",
    changed: () => {},
    toast: () => {},
    announce: () => {},
    remember: () => {},
    sent: () => {},
    notify: (title, body) => notified.push(`${title}: ${body}`),
  });
  for (const code of ["AAAAAA", "BBBBBB"])
    conv.adoptRoom(create(RoomJoinedSchema, { room: { code, name: code.toLowerCase() }, memberCount: 2 }));
  let seq = 0n;
  const say = (roomCode: string, sender: string, text: string) =>
    conv.onMessage(create(ChatMessageSchema, { roomCode, seq: ++seq, sender, text, sentAtMs: 1n }));
  return { conv, notified, say };
};

describe("Conversations: unread, mentions and the New divider", () => {
  it("counts others' messages in rooms not open, mentions apart, and sums them for the title", () => {
    const { conv, say, notified } = setup();
    conv.open({ kind: "room", code: "AAAAAA" });
    say("AAAAAA", "bob", "in view");
    say("BBBBBB", "bob", "elsewhere");
    say("BBBBBB", "bob", "hi @ada");
    say("BBBBBB", "Ada", "my own, from another tab");
    conv.onDirect(create(DirectMessageSchema, { seq: 1n, sender: "carol", recipient: "Ada", text: "psst @Ada", sentAtMs: 1n }));
    const b = conv.rooms.get("BBBBBB")!;
    expect([conv.rooms.get("AAAAAA")!.unread, b.unread, b.mentions]).toEqual([0, 2, 1]);
    expect(conv.dms.get("carol")).toMatchObject({ unread: 1, mentions: 1 });
    expect(conv.unreadTotal).toBe(3);
    // Every message from someone else is offered as a notification (Attention decides whether to show it).
    expect(notified).toEqual([
      "bob in #aaaaaa: in view",
      "bob in #bbbbbb: elsewhere",
      "bob in #bbbbbb: hi @ada",
      "carol (direct message): psst @Ada",
    ]);
  });

  it("opening a room clears its counts and puts the divider at its first unread message; leaving it clears the divider", () => {
    const { conv, say } = setup();
    conv.open({ kind: "room", code: "AAAAAA" });
    say("BBBBBB", "bob", "read before");
    conv.open({ kind: "room", code: "BBBBBB" });
    conv.open({ kind: "room", code: "AAAAAA" });
    say("BBBBBB", "bob", "first new");
    say("BBBBBB", "bob", "second new");
    const b = conv.rooms.get("BBBBBB")!;
    conv.open({ kind: "room", code: "BBBBBB" });
    expect([b.unread, b.mentions, b.unreadFrom]).toEqual([0, 0, undefined]);
    expect(b.timeline.newFrom).toBe(2n);
    conv.open({ kind: "lobby" });
    expect(b.timeline.newFrom).toBeUndefined();
    expect(conv.unreadTotal).toBe(0);
  });
});
