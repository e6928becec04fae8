// ChatClient against the real server on port 0: auth (register, login, resume, the errors), rooms,
// messages with their acks, presence, typing, history, direct messages and global presence, heartbeat.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WS from "ws";
import { startServer, type TestServer } from "../../../server/src/testing.ts";
import { applyEvents, ChatClient, ChatError, describeError, ErrorCode, PresenceChange } from "./index.ts";
import { PASSWORD, record, sleep, uniqueName, until } from "./test-support.ts";

/** Array.prototype.sort's default order (UTF-16 code units), spelled out. */
const byCodeUnits = (a: string | null | undefined, b: string | null | undefined): number =>
  (a ?? "") < (b ?? "") ? -1 : (a ?? "") > (b ?? "") ? 1 : 0;

let server: TestServer;
const clients: ChatClient[] = [];
const client = (extra: Partial<ConstructorParameters<typeof ChatClient>[0]> = {}) => {
  const c = new ChatClient({ url: server.wsUrl, reconnect: { initialMs: 20, maxMs: 200 }, ...extra });
  clients.push(c);
  return c;
};
const registered = async (prefix = "u") => {
  const c = client();
  await c.register(uniqueName(prefix), PASSWORD);
  return c;
};

beforeAll(async () => {
  server = await startServer({ heartbeatIntervalMs: 150, registerPerIpPerMin: 1000, loginPerIpPerMin: 1000 });
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  await server.close();
});

describe("auth", () => {
  it("register: disconnected → connecting → connected, with the session in AuthOk", async () => {
    const c = client();
    const events = record(c);
    expect(c.state).toBe("disconnected");
    const name = uniqueName("Reg");
    const ok = await c.register(name, PASSWORD);
    expect(ok.username).toBe(name);
    expect(ok.heartbeatIntervalMs).toBe(150);
    expect(c.state).toBe("connected");
    expect(c.username).toBe(name);
    expect(c.token).toBe(ok.sessionToken);
    expect(events.of("state").map((s) => s.state)).toEqual(["connecting", "connected"]);
    expect(events.of("authenticated")).toHaveLength(1);
  });

  it("login with the password and resume with the token, from fresh clients", async () => {
    const name = uniqueName("log");
    const first = client();
    const { sessionToken } = await first.register(name, PASSWORD);
    const second = client();
    const ok = await second.login(name.toUpperCase(), PASSWORD);
    expect(ok.username).toBe(name); // usernames match case-insensitively and come back as registered
    const third = client();
    const resumed = await third.resume(sessionToken);
    expect(resumed.username).toBe(name);
    expect(third.token).toBe(sessionToken);
    expect(third.state).toBe("connected");
  });

  it("rejects bad credentials with a ChatError in words, and stays disconnected", async () => {
    const name = uniqueName("bad");
    await client().register(name, PASSWORD);
    const c = client();
    const wrong = await c.login(name, "wrong password!").catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ChatError);
    expect((wrong as ChatError).code).toBe(ErrorCode.UNAUTHENTICATED);
    expect(describeError(wrong)).toMatch(/password/);
    expect(c.state).toBe("disconnected");
    const taken = await c.register(name, PASSWORD).catch((e: unknown) => e);
    expect((taken as ChatError).code).toBe(ErrorCode.USERNAME_TAKEN);
    const badToken = await c.resume("not-a-token").catch((e: unknown) => e);
    expect((badToken as ChatError).code).toBe(ErrorCode.UNAUTHENTICATED);
    // The same client can still log in afterwards.
    await c.login(name, PASSWORD);
    expect(c.state).toBe("connected");
    await expect(c.login(name, PASSWORD)).rejects.toMatchObject({ code: ErrorCode.ALREADY_AUTHENTICATED });
  });

  it("requests before authentication fail at once instead of reaching the server", async () => {
    const c = client();
    await expect(c.listRooms()).rejects.toBeInstanceOf(ChatError);
    await expect(c.send("K7QX2M", "hi").acked).rejects.toBeInstanceOf(ChatError);
  });

  it("logout revokes the token: it no longer resumes", async () => {
    const c = await registered("out");
    const token = c.token!;
    const events = record(c);
    await c.logout();
    expect(c.state).toBe("disconnected");
    expect(c.token).toBeUndefined();
    expect(c.username).toBeUndefined();
    expect(events.of("error")).toEqual([]);
    await expect(client().resume(token)).rejects.toMatchObject({ code: ErrorCode.UNAUTHENTICATED });
  });

  it("works with another WebSocket implementation (the `ws` package) passed as an option", async () => {
    const c = client({ WebSocket: WS as unknown as typeof globalThis.WebSocket });
    await c.register(uniqueName("ws"), PASSWORD);
    const code = (await c.createRoom("")).room!.code;
    const got = record(c);
    expect((await c.send(code, "via ws").acked).seq).toBe(1n);
    await until(() => got.of("message").length === 1, "own message push");
    expect(got.of("message")[0]!.text).toBe("via ws");
  });

  it("with reconnect disabled, a lost connection ends the session: disconnected, error event", async () => {
    const c = client({ reconnect: { enabled: false } });
    await c.register(uniqueName("nore"), PASSWORD);
    const events = record(c);
    const other = client();
    await other.resume(c.token!);
    await other.logout(); // revokes the shared session: c is closed with 4104
    await until(() => c.state === "disconnected", "disconnected");
    expect(events.of("closed")[0]).toMatchObject({ code: 4104, willReconnect: false });
    expect(events.of("error")).toHaveLength(1);
  });

  it("close() stops without revoking: pending sends fail, the token still resumes", async () => {
    const c = await registered("cl");
    const code = (await c.createRoom("")).room!.code;
    const events = record(c);
    c.close();
    expect(c.state).toBe("disconnected");
    expect(c.rooms()).toEqual([]);
    await expect(c.send(code, "after close").acked).rejects.toBeInstanceOf(ChatError);
    expect(events.of("error")).toEqual([]);
    expect(events.of("closed")).toEqual([{ code: 1000, reason: expect.any(String), willReconnect: false }]);
    await expect(client().resume(c.token!)).resolves.toMatchObject({ username: c.username });
  });

  it("answers pings: stays connected over many heartbeat intervals", async () => {
    const c = await registered("hb");
    const events = record(c);
    await sleep(150 * 6);
    expect(c.state).toBe("connected");
    expect(events.of("closed")).toEqual([]);
  });
});

describe("rooms and messages", () => {
  it("create, join by code in any case, send: everyone gets the message once, the sender an ack", async () => {
    const alice = await registered("alice");
    const bob = await registered("bob");
    const aliceEvents = record(alice);
    const bobEvents = record(bob);
    const created = await alice.createRoom("team");
    const code = created.room!.code;
    expect(alice.rooms()).toEqual([code]);
    const joined = await bob.joinRoom(` ${code.toLowerCase()} `);
    expect(joined.room!.code).toBe(code);
    expect(bob.members(code)).toEqual([alice.username, bob.username].sort(byCodeUnits));
    await until(() => alice.members(code).length === 2, "alice sees bob join");
    const presence = aliceEvents.of("presence");
    expect(presence.map((p) => [p.username, p.change])).toEqual([[bob.username, PresenceChange.JOINED]]);
    expect(alice.memberCount(code)).toBe(2);

    const first = alice.send(code, "hello");
    const second = alice.send(code, "again");
    expect(first.clientMessageId).not.toBe(second.clientMessageId);
    const [ack1, ack2] = await Promise.all([first.acked, second.acked]);
    expect([ack1.seq, ack2.seq]).toEqual([1n, 2n]);
    expect(ack1.duplicate).toBe(false);
    await until(() => bobEvents.of("message").length === 2 && aliceEvents.of("message").length === 2, "both messages everywhere");
    const seen = bobEvents.of("message");
    expect(seen.map((m) => [m.seq, m.text, m.sender])).toEqual([
      [1n, "hello", alice.username],
      [2n, "again", alice.username],
    ]);
    expect(aliceEvents.of("message")[0]!.clientMessageId).toBe(first.clientMessageId);
    expect(bob.lastSeq(code)).toBe(2n);
    expect(bob.room(code)?.room?.name).toBe("team");
  });

  it("typing reaches the other members; leaving sends presence and drops the subscription", async () => {
    const alice = await registered("ta");
    const bob = await registered("tb");
    const code = (await alice.createRoom("")).room!.code;
    await bob.joinRoom(code);
    const aliceEvents = record(alice);
    bob.setTyping(code, true);
    await until(() => aliceEvents.of("typing").length === 1, "typing event");
    expect(aliceEvents.of("typing")[0]).toMatchObject({ roomCode: code, username: bob.username, typing: true });
    await bob.leaveRoom(code);
    expect(bob.rooms()).toEqual([]);
    await until(() => aliceEvents.of("presence").some((p) => p.change === PresenceChange.LEFT), "left event");
    expect(alice.members(code)).toEqual([alice.username]);
    await expect(bob.send(code, "not a member").acked).rejects.toMatchObject({ code: ErrorCode.NOT_MEMBER });
  });

  it("rejects what retrying cannot fix: unknown room, empty or oversized text", async () => {
    const c = await registered("err");
    await expect(c.joinRoom("ZZZZZZ")).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    const code = (await c.createRoom("")).room!.code;
    await expect(c.send(code, "   ").acked).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(c.send(code, "x".repeat(5000)).acked).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    expect(c.state).toBe("connected");
  });

  it("history pages backward from the newest and forward from a seq; persistent rooms are listed", async () => {
    const c = await registered("hist");
    const name = uniqueName("Persist");
    const code = (await c.createRoom(name, true)).room!.code;
    for (let i = 1; i <= 5; i++) await c.send(code, `m${i}`).acked;
    const newest = await c.history(code, { limit: 2 });
    expect(newest.messages.map((m) => m.text)).toEqual(["m4", "m5"]);
    expect(newest.hasMore).toBe(true);
    const older = await c.history(code, { anchorSeq: 4n, limit: 10 });
    expect(older.messages.map((m) => m.seq)).toEqual([1n, 2n, 3n]);
    const forward = await c.history(code, { anchorSeq: 3n, direction: "forward" });
    expect(forward.messages.map((m) => m.seq)).toEqual([4n, 5n]);
    const rooms = await c.listRooms();
    expect(rooms.find((r) => r.room?.code === code)?.room?.name).toBe(name);
  });
});

describe("direct messages and global presence", () => {
  it("sendDirect reaches the recipient, is acked, and shows in direct history", async () => {
    const alice = await registered("da");
    const bob = await registered("db");
    const bobEvents = record(bob);
    const sent = alice.sendDirect(bob.username!, "psst");
    const ack = await sent.acked;
    expect(ack.seq).toBe(1n);
    await until(() => bobEvents.of("direct").length === 1, "direct message");
    expect(bobEvents.of("direct")[0]).toMatchObject({
      sender: alice.username,
      recipient: bob.username,
      text: "psst",
      clientMessageId: sent.clientMessageId,
    });
    const page = await bob.directHistory(alice.username!);
    expect(page.messages.map((m) => m.text)).toEqual(["psst"]);
    await expect(alice.sendDirect(uniqueName("nobody"), "hi").acked).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
  });

  it("onlineUsers lists who is online and, subscribed, reports arrivals and departures", async () => {
    const watcher = await registered("w");
    const events = record(watcher);
    const online = await watcher.onlineUsers();
    expect(online).toContain(watcher.username);
    const other = await registered("o");
    await until(() => events.of("userPresence").some((e) => e.username === other.username && e.online), "online event");
    other.close();
    await until(() => events.of("userPresence").some((e) => e.username === other.username && !e.online), "offline event");
    expect(watcher.onlineSnapshot()).not.toContain(other.username);
  });
});

describe("message actions", () => {
  it("two users edit, reply, react, toggle and delete; folding the events gives what history shows", async () => {
    const alice = await registered("act");
    const bob = await registered("act");
    const aliceEvents = record(alice);
    const bobEvents = record(bob);
    const { room } = await alice.createRoom("");
    const code = room!.code;
    await bob.joinRoom(code);
    const where = { room: code };
    const hello = await alice.send(code, "helo").acked;
    await alice.editMessage(where, hello.seq, "hello").acked;
    const reply = await bob.send(code, "hi!", { replyTo: hello.seq }).acked;
    await bob.react(where, hello.seq, "👍", true).acked;
    await alice.react(where, hello.seq, "🎉", true).acked;
    const folded = () =>
      applyEvents(
        [],
        aliceEvents.of("message").filter((m) => m.roomCode === code),
      );
    await until(() => folded().find((v) => v.seq === hello.seq)?.reactions.length === 2, "reactions");
    // Toggling what is shown: alice's 🎉 goes, bob's 👍 gains alice.
    const shown = folded().find((v) => v.seq === hello.seq)!;
    await alice.toggleReaction(where, shown, "🎉").acked;
    await alice.toggleReaction(where, shown, "👍").acked;
    const last = await alice.deleteMessage(where, reply.seq).acked.catch((e: ChatError) => e);
    expect(last).toBeInstanceOf(ChatError);
    expect((last as ChatError).code).toBe(ErrorCode.PERMISSION_DENIED);
    const gone = await bob.deleteMessage(where, reply.seq).acked;
    await until(
      () => bobEvents.of("message").some((m) => m.seq === gone.seq) && aliceEvents.of("message").some((m) => m.seq === gone.seq),
      "the delete on both",
    );

    const views = folded();
    expect(views.map((v) => v.seq)).toEqual([hello.seq, reply.seq]);
    const [first, second] = views;
    expect([first!.text, first!.editedAtMs > 0n, first!.reactions]).toEqual([
      "hello",
      true,
      [{ emoji: "👍", users: [bob.username, alice.username] }],
    ]);
    expect([second!.deleted, second!.text]).toEqual([true, ""]);
    // Bob's fold agrees, and so does a history page (state as of the read, events included).
    expect(
      applyEvents(
        [],
        bobEvents.of("message").filter((m) => m.roomCode === code),
      ),
    ).toEqual(views);
    const page = await bob.history(code);
    expect(applyEvents([], page.messages)).toEqual(views);
  });

  it("checks the contract before sending: edit text too long, target 0, not an emoji, never reach the server", async () => {
    const c = await registered("act");
    const { room } = await c.createRoom("");
    const where = { room: room!.code };
    const failures = await Promise.all([
      c.editMessage(where, 1n, "é".repeat(2049)).acked.catch((e: ChatError) => e),
      c.deleteMessage(where, 0n).acked.catch((e: ChatError) => e),
      c.react(where, 1n, "ok", true).acked.catch((e: ChatError) => e),
      c.react(where, 1n, "👍".repeat(9), true).acked.catch((e: ChatError) => e),
    ]);
    expect(failures.map((e) => [(e as ChatError).code, (e as ChatError).message])).toEqual([
      [ErrorCode.INVALID_ARGUMENT, "text: must be at most 4096 bytes"],
      [ErrorCode.INVALID_ARGUMENT, "target_seq: must be greater than or equal to 1 and less than or equal to 9223372036854775807"],
      [ErrorCode.INVALID_ARGUMENT, "emoji: must be a single emoji"],
      [ErrorCode.INVALID_ARGUMENT, "emoji: must be a single emoji"],
    ]);
  });

  it("direct messages: edit and react by peer; the other side folds the events", async () => {
    const alice = await registered("dma");
    const bob = await registered("dmb");
    const bobEvents = record(bob);
    const sent = await alice.sendDirect(bob.username!, "hey").acked;
    await alice.editMessage({ peer: bob.username! }, sent.seq, "hey you").acked;
    const reply = await bob.sendDirect(alice.username!, "yo", { replyTo: sent.seq }).acked;
    await alice.react({ peer: bob.username! }, reply.seq, "❤️", true).acked;
    await until(() => bobEvents.of("direct").length >= 3, "three direct events");
    const views = applyEvents([], bobEvents.of("direct"));
    expect(views.map((v) => [v.seq, v.text])).toEqual([[sent.seq, "hey you"]]);
    const page = await bob.directHistory(alice.username!);
    const all = applyEvents([], page.messages);
    expect(all.map((v) => [v.text, v.editedAtMs > 0n, v.reactions.map((r) => r.emoji), v.replyQuote?.text])).toEqual([
      ["hey you", true, [], undefined],
      ["yo", false, ["❤️"], "hey you"],
    ]);
  });
});
