// Message actions over real sockets, two users: edit, delete, reply and reactions in a room and in a direct
// conversation, pushed to both in seq order, refused with the documented codes, applied once on a retry, and
// recovered after a reconnect with the targets' current state.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActionKind } from "../../proto/gen/es/chat/v1/action_pb.js";
import { ErrorCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { HistoryDirection } from "../../proto/gen/es/chat/v1/message_pb.js";
import { startServer, type TestServer } from "../src/testing.ts";
import { errorCode } from "./helpers.ts";
import { registered, WireClient } from "./wire-client.ts";

const fast = { rateLimitPerSec: 1000, rateLimitBurst: 1000, registerPerIpPerMin: 1000, loginPerIpPerMin: 1000 };

let server: TestServer;
beforeAll(async () => {
  server = await startServer(fast);
});
afterAll(() => server.close());

let n = 0;
const id = () => `a${++n}`;
const room = (roomCode: string) => ({ case: "roomCode" as const, value: roomCode });
const peer = (name: string) => ({ case: "peer" as const, value: name });

describe("room message actions", () => {
  let alice: Awaited<ReturnType<typeof registered>>;
  let bob: Awaited<ReturnType<typeof registered>>;
  let code: string;
  beforeAll(async () => {
    alice = await registered(server.wsUrl);
    bob = await registered(server.wsUrl);
    code = (await alice.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
    await bob.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
  });
  afterAll(() => {
    alice.client.close();
    bob.client.close();
  });

  const send = (c: WireClient, text: string, replyToSeq = 0n) =>
    c.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: id(), text, replyToSeq } }, "sendAck");
  const pushOf = (c: WireClient, seq: bigint) => c.push("message", (m) => m.roomCode === code && m.seq === seq);

  it("edit, reply, react and delete reach both users as events in the room's seq; history shows the current state", async () => {
    const hello = await send(alice.client, "helo");
    await pushOf(bob.client, hello.seq);
    const editId = id();
    const edit = await alice.client.call(
      { case: "editMessage", value: { conversation: room(code), targetSeq: hello.seq, clientMessageId: editId, text: "hello" } },
      "sendAck",
    );
    expect(edit.seq).toBe(hello.seq + 1n);
    const editPush = await pushOf(bob.client, edit.seq);
    expect(editPush).toMatchObject({ sender: alice.username, text: "hello", action: { kind: ActionKind.EDIT, targetSeq: hello.seq } });
    // A retried edit (same client id) applies once: the original ack, marked duplicate, and no new seq.
    const retry = await alice.client.call(
      { case: "editMessage", value: { conversation: room(code), targetSeq: hello.seq, clientMessageId: editId, text: "hello!!" } },
      "sendAck",
    );
    expect([retry.seq, retry.duplicate]).toEqual([edit.seq, true]);

    const reply = await send(bob.client, "hi alice", hello.seq);
    const replyPush = await pushOf(alice.client, reply.seq);
    expect(replyPush).toMatchObject({ replyToSeq: hello.seq, replyQuote: { sender: alice.username, text: "hello", deleted: false } });

    const react = await bob.client.call(
      { case: "react", value: { conversation: room(code), targetSeq: hello.seq, clientMessageId: id(), emoji: "👍", add: true } },
      "sendAck",
    );
    expect(await pushOf(alice.client, react.seq)).toMatchObject({
      sender: bob.username,
      action: { kind: ActionKind.REACTION_ADD, emoji: "👍", targetSeq: hello.seq },
    });
    await alice.client.call(
      { case: "react", value: { conversation: room(code), targetSeq: hello.seq, clientMessageId: id(), emoji: "👍", add: true } },
      "sendAck",
    );
    const party = await alice.client.call(
      { case: "react", value: { conversation: room(code), targetSeq: hello.seq, clientMessageId: id(), emoji: "🎉", add: true } },
      "sendAck",
    );
    const unparty = await alice.client.call(
      { case: "react", value: { conversation: room(code), targetSeq: hello.seq, clientMessageId: id(), emoji: "🎉", add: false } },
      "sendAck",
    );
    await pushOf(bob.client, unparty.seq);

    const page = await bob.client.call(
      { case: "history", value: { roomCode: code, anchorSeq: hello.seq - 1n, direction: HistoryDirection.FORWARD } },
      "historyPage",
    );
    expect(page.messages.map((m) => m.seq)).toEqual([hello.seq, edit.seq, reply.seq, react.seq, react.seq + 1n, party.seq, unparty.seq]);
    const first = page.messages[0]!;
    expect(first.text).toBe("hello");
    expect(first.editedAtMs).toBeGreaterThan(0n);
    expect(first.stateSeq).toBe(unparty.seq);
    expect(first.reactions.map((r) => [r.emoji, r.users])).toEqual([["👍", [bob.username, alice.username]]]);

    const del = await alice.client.call(
      { case: "deleteMessage", value: { conversation: room(code), targetSeq: hello.seq, clientMessageId: id() } },
      "sendAck",
    );
    expect(await pushOf(bob.client, del.seq)).toMatchObject({ text: "", action: { kind: ActionKind.DELETE, targetSeq: hello.seq } });
    const after = await bob.client.call(
      { case: "history", value: { roomCode: code, anchorSeq: hello.seq - 1n, direction: HistoryDirection.FORWARD, limit: 3 } },
      "historyPage",
    );
    expect(after.messages[0]).toMatchObject({ seq: hello.seq, text: "", deleted: true, reactions: [] });
    expect(after.messages[1]).toMatchObject({ seq: edit.seq, text: "" }); // the edit's text is erased too
    expect(after.messages[2]!.replyQuote).toMatchObject({ sender: alice.username, text: "", deleted: true });
  });

  it("refuses with codes: someone else's message, a missing or deleted target, a non-emoji, a bad reply", async () => {
    const mine = await send(alice.client, "alice's");
    const call = (c: WireClient, kind: Parameters<WireClient["request"]>[0]) => c.request(kind).then(errorCode);
    expect(
      await call(bob.client, {
        case: "editMessage",
        value: { conversation: room(code), targetSeq: mine.seq, clientMessageId: id(), text: "bob's now" },
      }),
    ).toBe(ErrorCode.PERMISSION_DENIED);
    expect(
      await call(bob.client, { case: "deleteMessage", value: { conversation: room(code), targetSeq: mine.seq, clientMessageId: id() } }),
    ).toBe(ErrorCode.PERMISSION_DENIED);
    expect(
      await call(alice.client, {
        case: "editMessage",
        value: { conversation: room(code), targetSeq: mine.seq + 1000n, clientMessageId: id(), text: "x" },
      }),
    ).toBe(ErrorCode.NOT_FOUND);
    expect(
      await call(alice.client, {
        case: "react",
        value: { conversation: room(code), targetSeq: mine.seq, clientMessageId: id(), emoji: "ab", add: true },
      }),
    ).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(
      await call(alice.client, {
        case: "react",
        value: { conversation: room(code), targetSeq: mine.seq, clientMessageId: id(), emoji: "👍👍", add: true },
      }),
    ).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(
      await call(alice.client, {
        case: "editMessage",
        value: { conversation: room(code), targetSeq: mine.seq, clientMessageId: id(), text: "   " },
      }),
    ).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(
      await call(alice.client, {
        case: "editMessage",
        value: { conversation: room(code), targetSeq: 0n, clientMessageId: id(), text: "x" },
      }),
    ).toBe(ErrorCode.INVALID_ARGUMENT);
    // Seqs are stored as signed 64-bit integers: a larger (uint64) reference is refused by the contract, not the store.
    expect(
      await call(alice.client, {
        case: "react",
        value: { conversation: room(code), targetSeq: (1n << 64n) - 1n, clientMessageId: id(), emoji: "👍", add: true },
      }),
    ).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(
      await call(alice.client, {
        case: "sendMessage",
        value: { roomCode: code, clientMessageId: id(), text: "re", replyToSeq: 1n << 63n },
      }),
    ).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await call(alice.client, { case: "editMessage", value: { targetSeq: mine.seq, clientMessageId: id(), text: "x" } })).toBe(
      ErrorCode.INVALID_ARGUMENT,
    );
    expect(
      await call(alice.client, {
        case: "sendMessage",
        value: { roomCode: code, clientMessageId: id(), text: "re", replyToSeq: mine.seq + 1000n },
      }),
    ).toBe(ErrorCode.NOT_FOUND);
    expect(
      await call(alice.client, {
        case: "editMessage",
        value: { conversation: room("ZZZZZZ"), targetSeq: 1n, clientMessageId: id(), text: "x" },
      }),
    ).toBe(ErrorCode.NOT_MEMBER);
    await alice.client.call(
      { case: "deleteMessage", value: { conversation: room(code), targetSeq: mine.seq, clientMessageId: id() } },
      "sendAck",
    );
    expect(
      await call(alice.client, {
        case: "editMessage",
        value: { conversation: room(code), targetSeq: mine.seq, clientMessageId: id(), text: "undo" },
      }),
    ).toBe(ErrorCode.NOT_FOUND);
    expect(
      await call(bob.client, {
        case: "react",
        value: { conversation: room(code), targetSeq: mine.seq, clientMessageId: id(), emoji: "👍", add: true },
      }),
    ).toBe(ErrorCode.NOT_FOUND);
    // Nothing refused used a seq: the next message follows the delete directly.
    const last = await bob.client.call({ case: "recover", value: { roomCode: code, afterSeq: 0n } }, "recoverResult");
    const next = await send(bob.client, "after refusals");
    expect(next.seq).toBe(last.lastSeq + 1n);
  });

  it("a user who was away recovers the actions in order, with each target's current state", async () => {
    const target = await send(alice.client, "before");
    await pushOf(bob.client, target.seq);
    bob.client.close();
    const edit = await alice.client.call(
      { case: "editMessage", value: { conversation: room(code), targetSeq: target.seq, clientMessageId: id(), text: "after" } },
      "sendAck",
    );
    const react = await alice.client.call(
      { case: "react", value: { conversation: room(code), targetSeq: target.seq, clientMessageId: id(), emoji: "❤️", add: true } },
      "sendAck",
    );
    const back = await WireClient.open(server.wsUrl);
    await back.call({ case: "login", value: { username: bob.username, password: bob.password } }, "authOk");
    await back.call({ case: "joinRoom", value: { code } }, "roomJoined");
    const result = await back.call({ case: "recover", value: { roomCode: code, afterSeq: target.seq - 1n } }, "recoverResult");
    expect(result.recovered).toBe(true);
    expect(result.messages.map((m) => [m.seq, m.action?.kind ?? 0])).toEqual([
      [target.seq, 0],
      [edit.seq, ActionKind.EDIT],
      [react.seq, ActionKind.REACTION_ADD],
    ]);
    expect(result.messages[0]).toMatchObject({ text: "after", stateSeq: react.seq });
    expect(result.messages[0]!.reactions.map((r) => [r.emoji, r.users])).toEqual([["❤️", [alice.username]]]);
    back.close();
  });
});

describe("direct message actions", () => {
  it("edit, reply, react and delete a DM: pushed to the other user, refused for the other's message, in history", async () => {
    const alice = await registered(server.wsUrl);
    const bob = await registered(server.wsUrl);
    const dm = await alice.client.call(
      { case: "sendDirect", value: { recipient: bob.username, clientMessageId: id(), text: "hey bob" } },
      "directAck",
    );
    await bob.client.push("directMessage", (m) => m.seq === dm.seq);
    const edit = await alice.client.call(
      { case: "editMessage", value: { conversation: peer(bob.username), targetSeq: dm.seq, clientMessageId: id(), text: "hey Bob" } },
      "directAck",
    );
    expect(await bob.client.push("directMessage", (m) => m.seq === edit.seq)).toMatchObject({
      text: "hey Bob",
      action: { kind: ActionKind.EDIT, targetSeq: dm.seq },
    });
    const denied = await bob.client.request({
      case: "deleteMessage",
      value: { conversation: peer(alice.username), targetSeq: dm.seq, clientMessageId: id() },
    });
    expect(errorCode(denied)).toBe(ErrorCode.PERMISSION_DENIED);
    const reply = await bob.client.call(
      { case: "sendDirect", value: { recipient: alice.username, clientMessageId: id(), text: "yo", replyToSeq: dm.seq } },
      "directAck",
    );
    expect(await alice.client.push("directMessage", (m) => m.seq === reply.seq)).toMatchObject({
      replyToSeq: dm.seq,
      replyQuote: { text: "hey Bob" },
    });
    const react = await bob.client.call(
      { case: "react", value: { conversation: peer(alice.username), targetSeq: dm.seq, clientMessageId: id(), emoji: "😂", add: true } },
      "directAck",
    );
    await alice.client.push("directMessage", (m) => m.seq === react.seq);
    const del = await bob.client.call(
      { case: "deleteMessage", value: { conversation: peer(alice.username), targetSeq: reply.seq, clientMessageId: id() } },
      "directAck",
    );
    await alice.client.push("directMessage", (m) => m.seq === del.seq);
    const page = await alice.client.call(
      { case: "directHistory", value: { peer: bob.username, direction: HistoryDirection.FORWARD } },
      "directHistoryPage",
    );
    expect(page.messages.map((m) => Number(m.seq))).toEqual([1, 2, 3, 4, 5]);
    expect(page.messages[0]).toMatchObject({ text: "hey Bob", stateSeq: react.seq });
    expect(page.messages[0]!.editedAtMs).toBeGreaterThan(0n);
    expect(page.messages[0]!.reactions.map((r) => [r.emoji, r.users])).toEqual([["😂", [bob.username]]]);
    expect(page.messages[2]).toMatchObject({ deleted: true, text: "" });
    alice.client.close();
    bob.client.close();
  });
});
