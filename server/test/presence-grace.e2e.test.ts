// The presence grace (--presence-grace-ms) over real sockets: a reload or a network blip shows the other
// members nothing (no LEFT/JOINED, no offline/online, no count dip), a user gone longer leaves exactly once,
// after the grace; LeaveRoom and logout stay immediate; a heartbeat-timed-out peer and a temporary room's
// expiry count from the real departure. Run embedded, and on two nodes (in-memory, and Redis) where the
// user drops on one node and comes back through the other.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Context, Effect, Exit, Layer, Scope } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBinary } from "@bufbuild/protobuf";
import { type ServerFrame, ServerFrameSchema } from "../../proto/gen/es/chat/v1/envelope_pb.js";
import { CloseCode, ErrorCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { PresenceChange } from "../../proto/gen/es/chat/v1/presence_pb.js";
import { startRedis, type Redis } from "../../scripts/services.ts";
import { MemoryNetwork } from "../src/bus/bus.ts";
import type { Config } from "../src/config.ts";
import { PresenceTable } from "../src/presence/presence.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { StorageHealth, Store } from "../src/store/store.ts";
import { startServer, type TestServer } from "../src/testing.ts";
import { errorCode, keepAlive, sleep } from "./helpers.ts";
import { registered, WireClient } from "./wire-client.ts";

const GRACE_MS = 1500;
const settings: Partial<Config> = {
  presenceGraceMs: GRACE_MS,
  gapFillMs: 100,
  nodeTtlMs: 3000,
  rateLimitPerSec: 1000,
  rateLimitBurst: 1000,
  registerPerIpPerMin: 1000,
  loginPerIpPerMin: 1000,
  joinFailuresPerMin: 1000,
  logLevel: "error",
};

const createRoom = (c: WireClient) => c.call({ case: "createRoom", value: { name: "", persistent: false } }, "roomJoined");
const joinRoom = (c: WireClient, code: string) => c.call({ case: "joinRoom", value: { code } }, "roomJoined");
const resume = async (url: string, token: string) => {
  const c = await WireClient.open(url);
  await c.call({ case: "resume", value: { sessionToken: token } }, "authOk");
  return c;
};

/** Every frame the client receives from now on (WireClient's own buffer loses the frames a wait takes). */
const record = (c: WireClient): ServerFrame[] => {
  const seen: ServerFrame[] = [];
  c.ws.on("message", (data: Buffer) => seen.push(fromBinary(ServerFrameSchema, new Uint8Array(data))));
  return seen;
};

/** The presence pushes about `username` among `frames` (room JOINED/LEFT and online/offline), in order. */
const aboutUser = (frames: ReadonlyArray<ServerFrame>, username: string, from = 0) =>
  frames.slice(from).flatMap((f: ServerFrame) => {
    if (f.kind.case === "presence" && f.kind.value.username === username) {
      return [`${f.kind.value.change === PresenceChange.LEFT ? "left" : "joined"} ${f.kind.value.roomCode} ${f.kind.value.memberCount}`];
    }
    if (f.kind.case === "userPresence" && f.kind.value.username === username) return [f.kind.value.online ? "online" : "offline"];
    return [];
  });

/** Ann (subscribed to online pushes, on `a`) in a temporary room with Bob (on `b`), both announced. */
const annAndBob = async (a: TestServer, b: TestServer) => {
  const ann = await registered(a.wsUrl);
  const annSaw = record(ann.client);
  await ann.client.call({ case: "onlineUsers", value: { subscribe: true } }, "onlineUsers");
  const code = (await createRoom(ann.client)).room!.code;
  const bob = await registered(b.wsUrl);
  await joinRoom(bob.client, code);
  await ann.client.push("presence", (p) => p.username === bob.username && p.change === PresenceChange.JOINED);
  await ann.client.push("userPresence", (p) => p.username === bob.username && p.online);
  return { ann, annSaw, bob, code, token: bob.auth.sessionToken };
};

/** The same behaviour whether Bob drops and comes back on one node (`a` = `b`) or on the other node. */
const graceSuite = (name: string, nodes: () => { a: TestServer; b: TestServer }) =>
  describe(name, () => {
    it(
      "a reconnect within the grace (through the other node) shows the others nothing; the lingering user stays listed",
      { timeout: 30_000 },
      async () => {
        const { a, b } = nodes();
        const { ann, annSaw, bob, code, token } = await annAndBob(a, b);
        const stopAnn = keepAlive(ann.client, 300);
        const mark = annSaw.length;
        bob.client.ws.terminate(); // no close frame: a network blip or a killed tab
        await sleep(200);
        // During the grace Bob is still a member for everyone, on either node: in the snapshot and the count.
        const cat = await registered(a.wsUrl);
        const catSaw = record(cat.client);
        const seen = await joinRoom(cat.client, code);
        expect(seen.members.map((m) => m.username).sort()).toEqual([ann.username, bob.username, cat.username].sort());
        expect(seen.memberCount).toBe(3);
        // Bob's reload comes back through the other node and rejoins.
        const bob2 = await resume(a === b ? b.wsUrl : a.wsUrl, token);
        const back = await joinRoom(bob2, code);
        expect(back.memberCount).toBe(3);
        await sleep(GRACE_MS + 1000);
        expect(aboutUser(annSaw, bob.username, mark)).toEqual([]);
        expect(aboutUser(catSaw, bob.username)).toEqual([]);
        const online = await ann.client.call({ case: "onlineUsers", value: { subscribe: true } }, "onlineUsers");
        expect(online.usernames).toContain(bob.username);
        stopAnn();
        for (const c of [ann.client, bob2, cat.client]) c.close();
      },
    );

    it(
      "a user gone longer than the grace leaves once, after it: one LEFT (the count drops once) and one offline",
      { timeout: 30_000 },
      async () => {
        const { a, b } = nodes();
        const { ann, annSaw, bob, code } = await annAndBob(a, b);
        const stopAnn = keepAlive(ann.client, 300);
        const mark = annSaw.length;
        const droppedAt = Date.now();
        bob.client.ws.terminate();
        const left = await ann.client.push("presence", (p) => p.username === bob.username, GRACE_MS + 5000);
        const after = Date.now() - droppedAt;
        expect(left).toMatchObject({ roomCode: code, change: PresenceChange.LEFT, memberCount: 1 });
        // Timers never fire early: not before the grace (minus clock granularity).
        expect(after).toBeGreaterThanOrEqual(GRACE_MS - 50);
        await ann.client.push("userPresence", (p) => p.username === bob.username && !p.online, 3000);
        await sleep(1000);
        expect(aboutUser(annSaw, bob.username, mark)).toEqual([`left ${code} 1`, "offline"]);
        console.log(`presence grace ${GRACE_MS} ms (${name}): LEFT ${after} ms after the drop`);
        stopAnn();
        ann.client.close();
      },
    );

    it("LeaveRoom and logout are immediate: the user asked to go", { timeout: 30_000 }, async () => {
      const { a, b } = nodes();
      const { ann, annSaw, bob, code } = await annAndBob(a, b);
      const mark = annSaw.length;
      const started = Date.now();
      await bob.client.call({ case: "leaveRoom", value: { code } }, "ok");
      await ann.client.push("presence", (p) => p.username === bob.username && p.change === PresenceChange.LEFT, GRACE_MS - 300);
      await bob.client.call({ case: "logout", value: {} }, "ok");
      expect(await bob.client.waitClose()).toBe(CloseCode.NORMAL);
      await ann.client.push("userPresence", (p) => p.username === bob.username && !p.online, GRACE_MS - 300);
      expect(Date.now() - started).toBeLessThan(GRACE_MS);
      expect(aboutUser(annSaw, bob.username, mark)).toEqual([`left ${code} 1`, "offline"]);
      ann.client.close();
    });

    it(
      "a logout ends the grace its session left behind on any node: back through the other node, then logged out, is announced at once",
      { timeout: 30_000 },
      async () => {
        const { a, b } = nodes();
        const { ann, annSaw, bob, code, token } = await annAndBob(a, b);
        const mark = annSaw.length;
        bob.client.ws.terminate(); // grace on b, where the connection was
        const bob2 = await resume(a.wsUrl, token);
        await joinRoom(bob2, code);
        const started = Date.now();
        await bob2.call({ case: "logout", value: {} }, "ok");
        await ann.client.push("presence", (p) => p.username === bob.username && p.change === PresenceChange.LEFT, GRACE_MS - 300);
        await ann.client.push("userPresence", (p) => p.username === bob.username && !p.online, GRACE_MS - 300);
        expect(Date.now() - started).toBeLessThan(GRACE_MS);
        await sleep(GRACE_MS);
        expect(aboutUser(annSaw, bob.username, mark)).toEqual([`left ${code} 1`, "offline"]);
        ann.client.close();
      },
    );
  });

/**
 * A node stopped gracefully (a rolling deploy): its clients, told 1001, reconnect through another node within
 * the grace and are announced to nobody; a user who does not come back leaves once, after the grace.
 */
const rollingRestart = (name: string, nodes: () => { a: TestServer; b: TestServer }, startThird: () => Promise<TestServer>) =>
  it(
    `${name}: a node stopped gracefully hands its users over; only those who do not come back leave, once`,
    { timeout: 30_000 },
    async () => {
      const { a, b } = nodes();
      const c = await startThird();
      let cOpen = true;
      try {
        const ann = await registered(a.wsUrl);
        const annSaw = record(ann.client);
        await ann.client.call({ case: "onlineUsers", value: { subscribe: true } }, "onlineUsers");
        const code = (await createRoom(ann.client)).room!.code;
        const bob = await registered(c.wsUrl);
        const cat = await registered(c.wsUrl);
        await joinRoom(bob.client, code);
        await joinRoom(cat.client, code);
        await ann.client.push("presence", (p) => p.username === cat.username && p.change === PresenceChange.JOINED);
        const stopAnn = keepAlive(ann.client, 300);
        const mark = annSaw.length;
        const stoppedAt = Date.now();
        await c.close();
        cOpen = false;
        expect(bob.client.closeCode).toBe(CloseCode.GOING_AWAY);
        const bob2 = await resume(b.wsUrl, bob.auth.sessionToken);
        expect((await joinRoom(bob2, code)).memberCount).toBe(3);
        const left = await ann.client.push("presence", (p) => p.username === cat.username, GRACE_MS + 8000);
        expect(left).toMatchObject({ change: PresenceChange.LEFT, memberCount: 2 });
        expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(GRACE_MS - 100);
        await sleep(2500);
        expect(aboutUser(annSaw, bob.username, mark)).toEqual([]);
        expect(aboutUser(annSaw, cat.username, mark)).toEqual([`left ${code} 2`, "offline"]);
        stopAnn();
        ann.client.close();
        bob2.close();
      } finally {
        if (cOpen) await c.close();
      }
    },
  );

describe("presence grace, embedded", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(settings);
  }, 30_000);
  afterAll(() => server?.close());
  graceSuite("one node", () => ({ a: server, b: server }));

  it(
    "a heartbeat-timed-out peer is taken out at the timeout and announced after the grace; back within it, nothing",
    { timeout: 30_000 },
    async () => {
      const hb = await startServer({ ...settings, heartbeatIntervalMs: 200, heartbeatTimeoutMs: 700 });
      try {
        const { ann, annSaw, bob, code, token } = await annAndBob(hb, hb);
        const stopAnn = keepAlive(ann.client, 150);
        const mark = annSaw.length;
        // Bob goes silent (a frozen tab): closed with 4000 at the timeout, still listed for the grace after it.
        expect(await bob.client.waitClose(3000)).toBe(CloseCode.HEARTBEAT_TIMEOUT);
        const closedAt = Date.now();
        const left = await ann.client.push("presence", (p) => p.username === bob.username, GRACE_MS + 5000);
        expect(left).toMatchObject({ change: PresenceChange.LEFT, memberCount: 1 });
        expect(Date.now() - closedAt).toBeGreaterThanOrEqual(GRACE_MS - 100);
        // The same freeze, but the tab wakes up and reconnects within the grace: nothing is shown.
        const bob2 = await resume(hb.wsUrl, token);
        await joinRoom(bob2, code);
        await ann.client.push("presence", (p) => p.username === bob.username && p.change === PresenceChange.JOINED);
        await ann.client.push("userPresence", (p) => p.username === bob.username && p.online);
        const mark2 = annSaw.length;
        expect(await bob2.waitClose(3000)).toBe(CloseCode.HEARTBEAT_TIMEOUT);
        const bob3 = await resume(hb.wsUrl, token);
        await joinRoom(bob3, code);
        const stopBob = keepAlive(bob3, 150);
        await sleep(GRACE_MS + 800);
        expect(aboutUser(annSaw, bob.username, mark2)).toEqual([]);
        expect(aboutUser(annSaw, bob.username, mark)).toEqual([`left ${code} 1`, "offline", "online", `joined ${code} 2`]);
        stopAnn();
        stopBob();
        ann.client.close();
        bob3.close();
      } finally {
        await hb.close();
      }
    },
  );

  it("a temporary room's emptiness counts from when its last member is really gone (after the grace)", { timeout: 30_000 }, async () => {
    const roomGraceMs = 1000;
    const s = await startServer({ ...settings, presenceGraceMs: 1000, roomGraceMs });
    try {
      const bob = await registered(s.wsUrl);
      const code = (await createRoom(bob.client)).room!.code;
      bob.client.ws.terminate();
      // Past the room grace counted from the drop (where the room used to be destroyed), within the room grace
      // counted from the end of the presence grace.
      await sleep(1500);
      const bob2 = await resume(s.wsUrl, bob.auth.sessionToken);
      expect((await joinRoom(bob2, code)).room?.code).toBe(code);
      // Left for good: destroyed once the room grace has passed.
      await bob2.call({ case: "leaveRoom", value: { code } }, "ok");
      await sleep(roomGraceMs * 2.5);
      expect(errorCode(await bob2.request({ case: "joinRoom", value: { code } }))).toBe(ErrorCode.NOT_FOUND);
      bob2.close();
    } finally {
      await s.close();
    }
  });
});

/** A SQLite store shared by two in-process nodes. */
const sharedStore = async () => {
  const dir = mkdtempSync(join(tmpdir(), "protochat-grace-"));
  const scope = await Effect.runPromise(Scope.make());
  const context = await Effect.runPromise(Layer.buildWithScope(SqliteStore.layer({ file: join(dir, "chat.db") }), scope));
  const layer = Layer.succeedContext(
    Context.make(Store, Context.get(context, Store)).pipe(Context.add(StorageHealth, Context.get(context, StorageHealth))),
  );
  return {
    layer,
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void));
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

describe("presence grace, two nodes in memory", () => {
  let store: Awaited<ReturnType<typeof sharedStore>>;
  let a: TestServer;
  let b: TestServer;
  const memory = { network: new MemoryNetwork(), table: new PresenceTable() };
  beforeAll(async () => {
    store = await sharedStore();
    a = await startServer(settings, { store: store.layer, memory });
    b = await startServer(settings, { store: store.layer, memory });
  }, 30_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await store?.close();
  });
  graceSuite("in memory", () => ({ a, b }));
  rollingRestart(
    "in memory",
    () => ({ a, b }),
    () => startServer(settings, { store: store.layer, memory }),
  );
});

describe("presence grace, two nodes on Redis", () => {
  let redis: Redis;
  let store: Awaited<ReturnType<typeof sharedStore>>;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    redis = await startRedis();
    store = await sharedStore();
    a = await startServer({ ...settings, redisUrl: redis.url }, { store: store.layer });
    b = await startServer({ ...settings, redisUrl: redis.url }, { store: store.layer });
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await store?.close();
    await redis?.destroy();
  });
  graceSuite("redis", () => ({ a, b }));
  rollingRestart(
    "redis",
    () => ({ a, b }),
    () => startServer({ ...settings, redisUrl: redis.url }, { store: store.layer }),
  );
});
