// Rooms, presence and typing over real sockets: leave and its LEFT event, temporary rooms expiring after the
// grace period (and their codes never handed out again), rejoin within the grace, persistent rooms in
// list_rooms, the failed-join throttle, two tabs of one user counted once, global online users, typing expiry.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ErrorCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { PresenceChange } from "../../proto/gen/es/chat/v1/presence_pb.js";
import { startServer, type TestServer } from "../src/testing.ts";
import { connectionsSettle, errorCode, sleep } from "./helpers.ts";
import { registered, uniqueName, WireClient } from "./wire-client.ts";

// The code minter, with a queue of codes to hand out first: lets a test make the server draw a code that
// is already taken (by a live or a destroyed room) and see that it is never given to the new room.
const forcedCodes = vi.hoisted(() => [] as string[]);
vi.mock("../src/rooms/codes.ts", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../src/rooms/codes.ts")>();
  return { ...actual, mintCode: () => forcedCodes.shift() ?? actual.mintCode() };
});

// Long enough that a loaded CI machine still rejoins within it (the test waits GRACE_MS + 250 ms for expiry).
const GRACE_MS = 1500;
const TYPING_TTL_MS = 400;

let server: TestServer;
beforeAll(async () => {
  server = await startServer({
    roomGraceMs: GRACE_MS,
    typingTtlMs: TYPING_TTL_MS,
    rateLimitPerSec: 1000,
    rateLimitBurst: 1000,
    registerPerIpPerMin: 1000,
    loginPerIpPerMin: 1000,
    joinFailuresPerMin: 1000,
  });
});
afterAll(() => server.close());

const createRoom = async (client: WireClient, value: { name?: string; persistent?: boolean } = {}) => {
  const joined = await client.call({ case: "createRoom", value }, "roomJoined");
  return joined.room!.code;
};

describe("rooms", () => {
  it("leave: Ok, the others get LEFT with the new member count, and the leaver gets no more pushes", async () => {
    const a = await registered(server.wsUrl);
    const b = await registered(server.wsUrl);
    const c = await registered(server.wsUrl);
    const code = await createRoom(a.client);
    await b.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
    expect(await a.client.push("presence")).toMatchObject({
      roomCode: code,
      username: b.username,
      change: PresenceChange.JOINED,
      memberCount: 2,
    });
    const cJoined = await c.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
    expect(cJoined.memberCount).toBe(3);
    expect(cJoined.members.map((m) => m.username)).toEqual([a.username, b.username, c.username].sort());

    await c.client.call({ case: "leaveRoom", value: { code } }, "ok");
    for (const x of [a, b]) {
      expect(await x.client.push("presence", (p) => p.change === PresenceChange.LEFT)).toMatchObject({
        roomCode: code,
        username: c.username,
        memberCount: 2,
      });
    }
    // Leaving again, or sending there, is NOT_MEMBER; the leaver no longer gets the room's messages.
    expect(errorCode(await c.client.request({ case: "leaveRoom", value: { code } }))).toBe(ErrorCode.NOT_MEMBER);
    expect(errorCode(await c.client.request({ case: "sendMessage", value: { roomCode: code, clientMessageId: "x", text: "hi" } }))).toBe(
      ErrorCode.NOT_MEMBER,
    );
    await a.client.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: "after-leave", text: "still here" } }, "sendAck");
    await b.client.push("message", (m) => m.clientMessageId === "after-leave");
    await c.client.call({ case: "ping", value: {} }, "pong");
    expect(c.client.frames.filter((f) => f.kind.case === "message")).toEqual([]);
    for (const x of [a, b, c]) x.client.close();
  });

  it("a temporary room is destroyed once empty for the grace period: its code then answers NOT_FOUND", async () => {
    const a = await registered(server.wsUrl);
    const b = await registered(server.wsUrl);
    const code = await createRoom(a.client, { name: "short-lived" });
    await a.client.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: "m1", text: "hello" } }, "sendAck");
    await a.client.call({ case: "leaveRoom", value: { code } }, "ok");
    await sleep(GRACE_MS + 250);
    expect(errorCode(await b.client.request({ case: "joinRoom", value: { code } }))).toBe(ErrorCode.NOT_FOUND);
    expect(errorCode(await a.client.request({ case: "joinRoom", value: { code: code.toLowerCase() } }))).toBe(ErrorCode.NOT_FOUND);
    a.client.close();
    b.client.close();
  });

  it("an expired room's code is never minted again: a new room that draws it gets another code", async () => {
    const a = await registered(server.wsUrl);
    const expired = await createRoom(a.client);
    a.client.close();
    await sleep(GRACE_MS + 250);
    const b = await registered(server.wsUrl);
    expect(errorCode(await b.client.request({ case: "joinRoom", value: { code: expired } }))).toBe(ErrorCode.NOT_FOUND);

    // The minter draws the expired code (twice) and a live room's code before a fresh one.
    const live = await createRoom(b.client);
    forcedCodes.push(expired, live, expired);
    const fresh = await createRoom(b.client);
    expect(forcedCodes).toEqual([]);
    expect([expired, live]).not.toContain(fresh);
    // The expired code still answers NOT_FOUND: it was not revived by the attempt.
    expect(errorCode(await b.client.request({ case: "joinRoom", value: { code: expired } }))).toBe(ErrorCode.NOT_FOUND);

    // And with the real minter, many new rooms: all codes distinct, none of them an old one.
    const codes = new Set<string>([expired, live, fresh]);
    for (let i = 0; i < 60; i++) {
      const code = await createRoom(b.client);
      expect(codes.has(code)).toBe(false);
      codes.add(code);
      await b.client.call({ case: "leaveRoom", value: { code } }, "ok");
    }
    b.client.close();
  });

  it("a member coming back within the grace period keeps the room and its history", async () => {
    const a = await registered(server.wsUrl);
    const code = await createRoom(a.client);
    await a.client.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: "m1", text: "before" } }, "sendAck");
    a.client.close();
    await connectionsSettle(server.httpUrl, 0);
    await sleep(GRACE_MS / 5);
    const back = await WireClient.open(server.wsUrl, { token: a.auth.sessionToken });
    await back.push("authOk");
    const rejoined = await back.call({ case: "joinRoom", value: { code } }, "roomJoined");
    expect(rejoined.lastSeq).toBe(1n);
    // Well past the original grace period the room is alive, because it was not empty.
    await sleep(GRACE_MS + 250);
    const b = await registered(server.wsUrl);
    const joined = await b.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
    expect(joined.memberCount).toBe(2);
    expect(joined.lastSeq).toBe(1n);
    back.close();
    b.client.close();
  });

  it("persistent rooms are listed by name with live member counts and outlive their members", async () => {
    const a = await registered(server.wsUrl);
    const b = await registered(server.wsUrl);
    const name = uniqueName("lounge");
    const code = await createRoom(a.client, { name, persistent: true });
    await b.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
    const entry = async () => (await a.client.call({ case: "listRooms", value: {} }, "roomList")).rooms.find((r) => r.room?.code === code);
    expect(await entry()).toMatchObject({ room: { name, persistent: true, createdBy: a.username }, memberCount: 2 });
    const list = await a.client.call({ case: "listRooms", value: {} }, "roomList");
    // The configured room "general" exists; temporary rooms are never listed; the list is sorted by name.
    expect(list.rooms.map((r) => r.room?.name)).toContain("general");
    // A configured room belongs to no user (a user named "server" must not own it).
    expect(list.rooms.find((r) => r.room?.name === "general")?.room?.createdBy).toBe("");
    expect(list.rooms.every((r) => r.room?.persistent)).toBe(true);
    const names = list.rooms.map((r) => r.room!.name);
    expect(names).toEqual([...names].sort());

    await a.client.call({ case: "leaveRoom", value: { code } }, "ok");
    expect((await entry())?.memberCount).toBe(1);
    b.client.close();
    await connectionsSettle(server.httpUrl, 1);
    await sleep(GRACE_MS + 250);
    // Empty for longer than the grace period: a persistent room stays.
    expect(await entry()).toMatchObject({ room: { name }, memberCount: 0 });
    await a.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
    a.client.close();
  });

  it("a persistent room needs a name; names are validated", async () => {
    const a = await registered(server.wsUrl);
    expect(errorCode(await a.client.request({ case: "createRoom", value: { persistent: true } }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(errorCode(await a.client.request({ case: "createRoom", value: { name: "x".repeat(65) } }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(errorCode(await a.client.request({ case: "createRoom", value: { name: "bad\u0007name" } }))).toBe(ErrorCode.INVALID_ARGUMENT);
    a.client.close();
  });
});

describe("joined-room cap", () => {
  it("beyond maxRoomsPerConnection, create and join are LIMIT_EXCEEDED and leave nothing behind; rejoining is fine", async () => {
    const capped = await startServer({ maxRoomsPerConnection: 2 });
    try {
      const a = await registered(capped.wsUrl);
      const other = await registered(capped.wsUrl);
      const third = await createRoom(other.client);
      const first = await createRoom(a.client);
      await a.client.call({ case: "joinRoom", value: { code: third } }, "roomJoined");
      // Joining a room again is not an error and does not count twice.
      const again = await a.client.call({ case: "joinRoom", value: { code: first } }, "roomJoined");
      expect(again.memberCount).toBe(1);

      const ghostName = uniqueName("ghost");
      expect(errorCode(await a.client.request({ case: "createRoom", value: { name: ghostName, persistent: true } }))).toBe(
        ErrorCode.LIMIT_EXCEEDED,
      );
      expect(errorCode(await a.client.request({ case: "createRoom", value: {} }))).toBe(ErrorCode.LIMIT_EXCEEDED);
      const fourth = await createRoom(other.client);
      expect(errorCode(await a.client.request({ case: "joinRoom", value: { code: fourth } }))).toBe(ErrorCode.LIMIT_EXCEEDED);
      // The refused persistent room was not created.
      const list = await a.client.call({ case: "listRooms", value: {} }, "roomList");
      expect(list.rooms.map((r) => r.room?.name)).not.toContain(ghostName);
      // Leaving frees a slot.
      await a.client.call({ case: "leaveRoom", value: { code: third } }, "ok");
      await a.client.call({ case: "joinRoom", value: { code: fourth } }, "roomJoined");
      a.client.close();
      other.client.close();
    } finally {
      await capped.close();
    }
  });
});

describe("failed-join throttle", () => {
  it("after joinFailuresPerMin failed joins the user gets RATE_LIMITED with retry_after_ms, even for a real code", async () => {
    const limited = await startServer({ joinFailuresPerMin: 3 });
    try {
      const owner = await registered(limited.wsUrl);
      const real = await createRoom(owner.client);
      const guesser = await registered(limited.wsUrl);
      const guesses = ["AAAAAA", "BBBBBB", "not a code"];
      for (const code of guesses)
        expect(errorCode(await guesser.client.request({ case: "joinRoom", value: { code } }))).toBe(ErrorCode.NOT_FOUND);
      const refused = await guesser.client.request({ case: "joinRoom", value: { code: real } });
      expect(errorCode(refused)).toBe(ErrorCode.RATE_LIMITED);
      expect(refused.kind.case === "error" && refused.kind.value.retryAfterMs).toBeGreaterThan(0);
      // Successful joins do not count: another user on the same address still gets in.
      const friend = await registered(limited.wsUrl);
      await friend.client.call({ case: "joinRoom", value: { code: real } }, "roomJoined");
      // The owner spends their budget on guesses too: rejoining a room they are in is still answered.
      for (const code of guesses)
        expect(errorCode(await owner.client.request({ case: "joinRoom", value: { code } }))).toBe(ErrorCode.NOT_FOUND);
      expect(errorCode(await owner.client.request({ case: "joinRoom", value: { code: "CCCCCC" } }))).toBe(ErrorCode.RATE_LIMITED);
      expect((await owner.client.call({ case: "joinRoom", value: { code: real } }, "roomJoined")).memberCount).toBe(2);
      for (const x of [owner, guesser, friend]) x.client.close();
    } finally {
      await limited.close();
    }
  });
});

describe("presence", () => {
  it("one user on two sockets is one member: one JOINED, counted once, LEFT only when the last socket goes", async () => {
    const a = await registered(server.wsUrl);
    const code = await createRoom(a.client);
    const b1 = await registered(server.wsUrl);
    const b2 = await WireClient.open(server.wsUrl, { token: b1.auth.sessionToken });
    await b2.push("authOk");

    const first = await b1.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
    expect(first.memberCount).toBe(2);
    expect(await a.client.push("presence")).toMatchObject({ username: b1.username, change: PresenceChange.JOINED, memberCount: 2 });
    const second = await b2.call({ case: "joinRoom", value: { code } }, "roomJoined");
    expect(second.memberCount).toBe(2);
    expect(second.members.map((m) => m.username)).toEqual([a.username, b1.username].sort());

    b1.client.close();
    await connectionsSettle(server.httpUrl, 2);
    // A message after the close is processed: A got no presence event in between.
    await b2.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: "still-here", text: "tab 2" } }, "sendAck");
    await a.client.push("message", (m) => m.clientMessageId === "still-here");
    expect(a.client.frames.filter((f) => f.kind.case === "presence")).toEqual([]);

    b2.close();
    expect(await a.client.push("presence")).toMatchObject({ username: b1.username, change: PresenceChange.LEFT, memberCount: 1 });
    // Exactly one JOINED and one LEFT were pushed for B in all.
    await a.client.call({ case: "ping", value: {} }, "pong");
    expect(a.client.frames.filter((f) => f.kind.case === "presence")).toEqual([]);
    a.client.close();
  });

  it("online users: the list names users once; a subscriber sees a user's first socket online and last socket offline", async () => {
    const watcher = await registered(server.wsUrl);
    const other = await registered(server.wsUrl);
    const list = await watcher.client.call({ case: "onlineUsers", value: { subscribe: true } }, "onlineUsers");
    expect(list.usernames).toContain(watcher.username);
    expect(list.usernames).toContain(other.username);
    expect(list.usernames).toEqual([...new Set(list.usernames)].sort());
    expect(list.truncated).toBe(false);

    const d = await registered(server.wsUrl);
    expect(await watcher.client.push("userPresence", (p) => p.username === d.username)).toMatchObject({ online: true });
    const d2 = await WireClient.open(server.wsUrl, { token: d.auth.sessionToken });
    await d2.push("authOk");
    d.client.close();
    await connectionsSettle(server.httpUrl, 3);
    await watcher.client.call({ case: "ping", value: {} }, "pong");
    expect(watcher.client.frames.filter((f) => f.kind.case === "userPresence")).toEqual([]);
    d2.close();
    expect(await watcher.client.push("userPresence", (p) => p.username === d.username)).toMatchObject({ online: false });
    const after = await watcher.client.call({ case: "onlineUsers", value: {} }, "onlineUsers");
    expect(after.usernames).not.toContain(d.username);

    // Unsubscribed (subscribe: false): no more events.
    await watcher.client.call({ case: "onlineUsers", value: { subscribe: false } }, "onlineUsers");
    const e = await registered(server.wsUrl);
    e.client.close();
    await connectionsSettle(server.httpUrl, 2);
    await watcher.client.call({ case: "ping", value: {} }, "pong");
    expect(watcher.client.frames.filter((f) => f.kind.case === "userPresence")).toEqual([]);
    watcher.client.close();
    other.client.close();
  });
});

describe("typing", () => {
  const setup = async () => {
    const a = await registered(server.wsUrl);
    const b = await registered(server.wsUrl);
    const code = await createRoom(a.client);
    await b.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
    await a.client.push("presence");
    return { a, b, code };
  };
  const typing = (c: WireClient, roomCode: string, on: boolean) => c.call({ case: "typing", value: { roomCode, typing: on } }, "ok");

  it("start reaches the others; without a refresh it expires after the TTL with typing=false", async () => {
    const { a, b, code } = await setup();
    const started = Date.now();
    await typing(a.client, code, true);
    expect(await b.client.push("typing")).toMatchObject({ roomCode: code, username: a.username, typing: true });
    const stopped = await b.client.push("typing", () => true, 2000);
    expect(stopped).toMatchObject({ username: a.username, typing: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(TYPING_TTL_MS - 30);
    // The typist is not told about itself.
    expect(a.client.frames.filter((f) => f.kind.case === "typing")).toEqual([]);
    a.client.close();
    b.client.close();
  });

  it("refreshes keep it on (pushing nothing); an explicit stop pushes typing=false at once", async () => {
    const { a, b, code } = await setup();
    await typing(a.client, code, true);
    await b.client.push("typing", (t) => t.typing);
    // Refreshed every quarter TTL for one and a half TTLs.
    for (let i = 0; i < 6; i++) {
      await sleep(TYPING_TTL_MS / 4);
      await typing(a.client, code, true);
    }
    expect(b.client.frames.filter((f) => f.kind.case === "typing")).toEqual([]);
    const stoppedAt = Date.now();
    await typing(a.client, code, false);
    expect(await b.client.push("typing")).toMatchObject({ username: a.username, typing: false });
    expect(Date.now() - stoppedAt).toBeLessThan(TYPING_TTL_MS);
    a.client.close();
    b.client.close();
  });

  it("disconnecting stops typing: the others get typing=false, then LEFT", async () => {
    const { a, b, code } = await setup();
    await typing(a.client, code, true);
    await b.client.push("typing", (t) => t.typing);
    a.client.close();
    const next = await b.client.waitFor((f) => f.kind.case === "typing" || f.kind.case === "presence", TYPING_TTL_MS / 2);
    expect(next.kind.case === "typing" && next.kind.value).toMatchObject({ roomCode: code, username: a.username, typing: false });
    expect(await b.client.push("presence")).toMatchObject({ username: a.username, change: PresenceChange.LEFT, memberCount: 1 });
    b.client.close();
  });

  it("sending a message stops typing; typing in a room not joined is NOT_MEMBER", async () => {
    const { a, b, code } = await setup();
    await typing(a.client, code, true);
    await b.client.push("typing", (t) => t.typing);
    await a.client.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: "t1", text: "done typing" } }, "sendAck");
    expect(await b.client.push("typing", () => true, TYPING_TTL_MS / 2)).toMatchObject({ typing: false });
    const stranger = await registered(server.wsUrl);
    expect(errorCode(await stranger.client.request({ case: "typing", value: { roomCode: code, typing: true } }))).toBe(
      ErrorCode.NOT_MEMBER,
    );
    for (const x of [a, b, stranger]) x.client.close();
  });
});
