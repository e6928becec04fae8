// Message history over real sockets: history pages backward and forward with limits and has_more, recovery
// after a reconnect (complete, or an explicit not-recovered past the limit), and direct messages (pushes
// to every socket of both users but the sending one, history, NOT_FOUND, idempotent retry).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { HistoryDirection } from "../../proto/gen/es/chat/v1/message_pb.js";
import { startServer, type TestServer } from "../src/testing.ts";
import { connectionsSettle, errorCode } from "./helpers.ts";
import { registered, uniqueName, WireClient } from "./wire-client.ts";

const RECOVER_LIMIT = 3;
const fast = { rateLimitPerSec: 1000, rateLimitBurst: 1000, registerPerIpPerMin: 1000, loginPerIpPerMin: 1000 };

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ ...fast, recoverLimit: RECOVER_LIMIT });
});
afterAll(() => server.close());

const send = (c: WireClient, roomCode: string, clientMessageId: string, text = clientMessageId) =>
  c.call({ case: "sendMessage", value: { roomCode, clientMessageId, text } }, "sendAck");

const seqs = (messages: ReadonlyArray<{ seq: bigint }>) => messages.map((m) => Number(m.seq));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("history", () => {
  const TOTAL = 27;
  let a: Awaited<ReturnType<typeof registered>>;
  let code: string;
  beforeAll(async () => {
    a = await registered(server.wsUrl);
    code = (await a.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
    await Promise.all(range(1, TOTAL).map((i) => send(a.client, code, `h${i}`, `text ${i}`)));
  });
  afterAll(() => a.client.close());

  const page = (anchorSeq: number, direction: HistoryDirection, limit: number) =>
    a.client.call({ case: "history", value: { roomCode: code, anchorSeq: BigInt(anchorSeq), direction, limit } }, "historyPage");

  it("backward from the newest, page by page, each ascending and contiguous, until has_more is false", async () => {
    const p1 = await page(0, HistoryDirection.BACKWARD, 10);
    expect(seqs(p1.messages)).toEqual(range(18, 27));
    expect(p1.hasMore).toBe(true);
    expect(p1.roomCode).toBe(code);
    const p2 = await page(18, HistoryDirection.BACKWARD, 10);
    expect(seqs(p2.messages)).toEqual(range(8, 17));
    expect(p2.hasMore).toBe(true);
    const p3 = await page(8, HistoryDirection.BACKWARD, 10);
    expect(seqs(p3.messages)).toEqual(range(1, 7));
    expect(p3.hasMore).toBe(false);
    // Every message once, with the text and id it was sent with.
    const all = [...p3.messages, ...p2.messages, ...p1.messages];
    expect(all.map((m) => m.text)).toEqual(all.map((m) => `text ${m.clientMessageId.slice(1)}`));
    expect(new Set(all.map((m) => m.clientMessageId)).size).toBe(TOTAL);
    expect(all.every((m) => m.sender === a.username && m.sentAtMs > 0n)).toBe(true);
  });

  it("forward from the start and from a seq; an exact last page says has_more false", async () => {
    const p1 = await page(0, HistoryDirection.FORWARD, 10);
    expect(seqs(p1.messages)).toEqual(range(1, 10));
    expect(p1.hasMore).toBe(true);
    const p2 = await page(10, HistoryDirection.FORWARD, 10);
    expect(seqs(p2.messages)).toEqual(range(11, 20));
    expect(p2.hasMore).toBe(true);
    const p3 = await page(20, HistoryDirection.FORWARD, 7);
    expect(seqs(p3.messages)).toEqual(range(21, 27));
    expect(p3.hasMore).toBe(false);
    const past = await page(27, HistoryDirection.FORWARD, 10);
    expect(past.messages).toEqual([]);
    expect(past.hasMore).toBe(false);
  });

  it("an anchor beyond int64 (uint64 on the wire) reads as the largest: newest backward, nothing forward", async () => {
    const max = (1n << 64n) - 1n;
    const back = await a.client.call({ case: "history", value: { roomCode: code, anchorSeq: max, limit: 3 } }, "historyPage");
    expect(seqs(back.messages)).toEqual([25, 26, 27]);
    expect(back.hasMore).toBe(true);
    const fwd = await a.client.call(
      { case: "history", value: { roomCode: code, anchorSeq: max, direction: HistoryDirection.FORWARD } },
      "historyPage",
    );
    expect(fwd).toMatchObject({ messages: [], hasMore: false });
    const ahead = await a.client.call({ case: "recover", value: { roomCode: code, afterSeq: 1n << 63n } }, "recoverResult");
    expect(ahead).toMatchObject({ recovered: false, messages: [], lastSeq: BigInt(TOTAL) });
    const peer = await registered(server.wsUrl);
    await peer.client.call({ case: "sendDirect", value: { recipient: a.username, clientMessageId: "d", text: "hi" } }, "directAck");
    const dms = await a.client.call({ case: "directHistory", value: { peer: peer.username, anchorSeq: max } }, "directHistoryPage");
    expect(dms.messages.map((m) => m.text)).toEqual(["hi"]);
    await a.client.push("directMessage");
    peer.client.close();
  });

  it("limit 0 means 50, direction unset means backward; a limit over 200 is INVALID_ARGUMENT; NOT_MEMBER outside", async () => {
    const all = await a.client.call({ case: "history", value: { roomCode: code } }, "historyPage");
    expect(seqs(all.messages)).toEqual(range(1, TOTAL));
    expect(all.hasMore).toBe(false);
    const newest = await a.client.call({ case: "history", value: { roomCode: code, limit: 2 } }, "historyPage");
    expect(seqs(newest.messages)).toEqual([26, 27]);
    expect(errorCode(await a.client.request({ case: "history", value: { roomCode: code, limit: 201 } }))).toBe(ErrorCode.INVALID_ARGUMENT);
    const other = await registered(server.wsUrl);
    expect(errorCode(await other.client.request({ case: "history", value: { roomCode: code } }))).toBe(ErrorCode.NOT_MEMBER);
    other.client.close();
  });
});

describe("joining mid-stream", () => {
  it("the join reply's last_seq is where the pushes pick up: no gap, no duplicate, while messages keep coming", async () => {
    const a = await registered(server.wsUrl);
    const code = (await a.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
    const TOTAL = 200;
    let next = 0;
    let acked = 0;
    const worker = async () => {
      while (next < TOTAL) {
        await send(a.client, code, `s${next++}`);
        acked++;
      }
    };
    const sending = Promise.all(Array.from({ length: 16 }, worker));
    while (acked < 40) await new Promise((r) => setTimeout(r, 1));
    const b = await registered(server.wsUrl);
    const joined = await b.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
    await sending;
    expect(joined.lastSeq).toBeGreaterThan(0n);
    expect(joined.lastSeq).toBeLessThan(BigInt(TOTAL));
    const seen: bigint[] = [];
    while (seen.at(-1) !== BigInt(TOTAL)) seen.push((await b.client.push("message")).seq);
    expect(seen.map(Number)).toEqual(range(Number(joined.lastSeq) + 1, TOTAL));
    // What came before the join is in history, contiguous with the pushes.
    const earlier = await b.client.call(
      { case: "history", value: { roomCode: code, direction: HistoryDirection.FORWARD, limit: TOTAL } },
      "historyPage",
    );
    expect(seqs(earlier.messages)).toEqual(range(1, TOTAL));
    a.client.close();
    b.client.close();
  });
});

describe("validation", () => {
  it("text up to 4096 bytes and ids up to 64 bytes are accepted; one more is INVALID_ARGUMENT and nothing is stored", async () => {
    const a = await registered(server.wsUrl);
    const code = (await a.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
    await send(a.client, code, "i".repeat(64), "é".repeat(2048));
    const tooLong = await a.client.request({
      case: "sendMessage",
      value: { roomCode: code, clientMessageId: "long", text: `${"é".repeat(2048)}x` },
    });
    expect(errorCode(tooLong)).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(
      errorCode(await a.client.request({ case: "sendMessage", value: { roomCode: code, clientMessageId: "i".repeat(65), text: "x" } })),
    ).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(errorCode(await a.client.request({ case: "sendMessage", value: { roomCode: code, clientMessageId: "", text: "x" } }))).toBe(
      ErrorCode.INVALID_ARGUMENT,
    );
    expect(
      errorCode(await a.client.request({ case: "sendMessage", value: { roomCode: code, clientMessageId: "ws", text: " \n\t " } })),
    ).toBe(ErrorCode.INVALID_ARGUMENT);
    const page = await a.client.call({ case: "history", value: { roomCode: code } }, "historyPage");
    expect(page.messages.map((m) => m.clientMessageId)).toEqual(["i".repeat(64)]);
    a.client.close();
  });
});

describe("recovery after a reconnect", () => {
  /** A and B in a room at seq `before`; A disconnects, B sends `missed` messages, A comes back with its token and rejoins. */
  const missWhileAway = async (before: number, missed: number) => {
    const a = await registered(server.wsUrl);
    const b = await registered(server.wsUrl);
    const code = (await b.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
    for (let i = 1; i <= before; i++) await send(b.client, code, `before-${i}`);
    const joined = await a.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
    expect(joined.lastSeq).toBe(BigInt(before));
    a.client.close();
    await a.client.waitClose();
    const acks = [];
    for (let i = 1; i <= missed; i++) acks.push(await send(b.client, code, `missed-${i}`, `missed text ${i}`));
    const back = await WireClient.open(server.wsUrl, { token: a.auth.sessionToken });
    await back.push("authOk");
    const rejoined = await back.call({ case: "joinRoom", value: { code } }, "roomJoined");
    expect(rejoined.lastSeq).toBe(BigInt(before + missed));
    return { a: back, b: b.client, code, acks, lastSeen: joined.lastSeq };
  };

  it("recover(after_seq) returns exactly the missed messages in order with recovered = true", async () => {
    const { a, b, code, acks, lastSeen } = await missWhileAway(2, RECOVER_LIMIT);
    const result = await a.call({ case: "recover", value: { roomCode: code, afterSeq: lastSeen } }, "recoverResult");
    expect(result.recovered).toBe(true);
    expect(result.roomCode).toBe(code);
    expect(result.lastSeq).toBe(acks.at(-1)!.seq);
    expect(result.messages.map((m) => [m.seq, m.clientMessageId, m.text])).toEqual(
      acks.map((ack, i) => [ack.seq, `missed-${i + 1}`, `missed text ${i + 1}`]),
    );
    // Nothing missed: recovered with no messages.
    const upToDate = await a.call({ case: "recover", value: { roomCode: code, afterSeq: result.lastSeq } }, "recoverResult");
    expect(upToDate).toMatchObject({ recovered: true, messages: [], lastSeq: result.lastSeq });
    a.close();
    b.close();
  });

  it("more missed than the recovery limit: recovered = false, no messages, last_seq of the room", async () => {
    const missed = RECOVER_LIMIT + 2;
    const { a, b, code, acks, lastSeen } = await missWhileAway(1, missed);
    const result = await a.call({ case: "recover", value: { roomCode: code, afterSeq: lastSeen } }, "recoverResult");
    expect(result.recovered).toBe(false);
    expect(result.messages).toEqual([]);
    expect(result.lastSeq).toBe(acks.at(-1)!.seq);
    expect(result.lastSeq).toBe(BigInt(1 + missed));
    // The client then reloads with history backward from the newest.
    const page = await a.call({ case: "history", value: { roomCode: code, limit: missed } }, "historyPage");
    expect(seqs(page.messages)).toEqual(range(2, 1 + missed));
    a.close();
    b.close();
  });

  it("after_seq ahead of the room is not recovered; recover in a room not joined is NOT_MEMBER", async () => {
    const a = await registered(server.wsUrl);
    const code = (await a.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
    await send(a.client, code, "only");
    const ahead = await a.client.call({ case: "recover", value: { roomCode: code, afterSeq: 5n } }, "recoverResult");
    expect(ahead).toMatchObject({ recovered: false, messages: [], lastSeq: 1n });
    const other = await registered(server.wsUrl);
    expect(errorCode(await other.client.request({ case: "recover", value: { roomCode: code, afterSeq: 0n } }))).toBe(ErrorCode.NOT_MEMBER);
    a.client.close();
    other.client.close();
  });

  it("live pushes after the rejoin carry seqs above the join reply's last_seq only", async () => {
    const { a, b, code } = await missWhileAway(1, 2);
    const ack = await send(b, code, "live");
    const pushed = await a.push("message");
    expect(pushed.seq).toBe(ack.seq);
    expect(pushed.seq).toBe(4n);
    a.close();
    b.close();
  });
});

describe("direct messages", () => {
  it("reach every socket of the recipient and the sender's other sockets; the sending socket gets only the ack", async () => {
    const alice = await registered(server.wsUrl);
    const aliceTab2 = await WireClient.open(server.wsUrl, { token: alice.auth.sessionToken });
    await aliceTab2.push("authOk");
    const bob = await registered(server.wsUrl);
    const bobTab2 = await WireClient.open(server.wsUrl, { token: bob.auth.sessionToken });
    await bobTab2.push("authOk");

    const ack = await alice.client.call(
      { case: "sendDirect", value: { recipient: bob.username.toUpperCase(), clientMessageId: "d-1", text: "psst" } },
      "directAck",
    );
    expect(ack).toMatchObject({ recipient: bob.username, seq: 1n, clientMessageId: "d-1", duplicate: false });
    for (const c of [bob.client, bobTab2, aliceTab2]) {
      expect(await c.push("directMessage")).toMatchObject({
        sender: alice.username,
        recipient: bob.username,
        seq: 1n,
        text: "psst",
        clientMessageId: "d-1",
        sentAtMs: ack.sentAtMs,
      });
    }
    await alice.client.call({ case: "ping", value: {} }, "pong");
    expect(alice.client.frames.filter((f) => f.kind.case === "directMessage")).toEqual([]);

    // The reply shares the conversation's seq.
    const reply = await bobTab2.call(
      { case: "sendDirect", value: { recipient: alice.username, clientMessageId: "d-2", text: "hi back" } },
      "directAck",
    );
    expect(reply.seq).toBe(2n);
    for (const c of [alice.client, aliceTab2, bob.client]) expect((await c.push("directMessage")).seq).toBe(2n);

    const fromBob = await bob.client.call({ case: "directHistory", value: { peer: alice.username } }, "directHistoryPage");
    expect(fromBob.peer).toBe(alice.username);
    expect(fromBob.messages.map((m) => [m.seq, m.sender, m.text])).toEqual([
      [1n, alice.username, "psst"],
      [2n, bob.username, "hi back"],
    ]);
    expect(fromBob.hasMore).toBe(false);
    const fromAlice = await alice.client.call(
      { case: "directHistory", value: { peer: bob.username, direction: HistoryDirection.FORWARD, anchorSeq: 1n } },
      "directHistoryPage",
    );
    expect(fromAlice.messages.map((m) => m.text)).toEqual(["hi back"]);
    for (const c of [alice.client, aliceTab2, bob.client, bobTab2]) c.close();
  });

  it("a retried DM gets the original ack with duplicate = true and is stored and delivered once", async () => {
    const alice = await registered(server.wsUrl);
    const bob = await registered(server.wsUrl);
    const dm = { case: "sendDirect" as const, value: { recipient: bob.username, clientMessageId: "same", text: "once" } };
    const first = await alice.client.call(dm, "directAck");
    const again = await alice.client.call({ ...dm, value: { ...dm.value, text: "twice?" } }, "directAck");
    expect(again).toMatchObject({ seq: first.seq, sentAtMs: first.sentAtMs, duplicate: true });
    // After a reconnect the retry is still recognised.
    alice.client.close();
    const back = await WireClient.open(server.wsUrl, { token: alice.auth.sessionToken });
    await back.push("authOk");
    expect(await back.call(dm, "directAck")).toMatchObject({ seq: first.seq, duplicate: true });
    await bob.client.push("directMessage");
    await bob.client.call({ case: "ping", value: {} }, "pong");
    expect(bob.client.frames.filter((f) => f.kind.case === "directMessage")).toEqual([]);
    const history = await bob.client.call({ case: "directHistory", value: { peer: alice.username } }, "directHistoryPage");
    expect(history.messages.map((m) => m.text)).toEqual(["once"]);
    back.close();
    bob.client.close();
  });

  it("an unknown recipient is NOT_FOUND (send and history); yourself or an empty text is INVALID_ARGUMENT", async () => {
    const alice = await registered(server.wsUrl);
    const nobody = uniqueName("nobody");
    expect(
      errorCode(await alice.client.request({ case: "sendDirect", value: { recipient: nobody, clientMessageId: "x", text: "hello?" } })),
    ).toBe(ErrorCode.NOT_FOUND);
    expect(errorCode(await alice.client.request({ case: "directHistory", value: { peer: nobody } }))).toBe(ErrorCode.NOT_FOUND);
    expect(
      errorCode(await alice.client.request({ case: "sendDirect", value: { recipient: alice.username, clientMessageId: "x", text: "me" } })),
    ).toBe(ErrorCode.INVALID_ARGUMENT);
    const bob = await registered(server.wsUrl);
    expect(
      errorCode(await alice.client.request({ case: "sendDirect", value: { recipient: bob.username, clientMessageId: "x", text: "   " } })),
    ).toBe(ErrorCode.INVALID_ARGUMENT);
    // An offline recipient is fine: the DM waits in history.
    bob.client.close();
    await connectionsSettle(server.httpUrl, 1);
    await alice.client.call(
      { case: "sendDirect", value: { recipient: bob.username, clientMessageId: "y", text: "for later" } },
      "directAck",
    );
    const later = await WireClient.open(server.wsUrl, { token: bob.auth.sessionToken });
    await later.push("authOk");
    const history = await later.call({ case: "directHistory", value: { peer: alice.username } }, "directHistoryPage");
    expect(history.messages.map((m) => m.text)).toEqual(["for later"]);
    alice.client.close();
    later.close();
  });
});
