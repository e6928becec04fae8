// Two server nodes serving one chat, over real sockets: members on different nodes see the same room order,
// presence (JOINED/LEFT, counts, online list, multi-device counted once), typing, direct messages, logout
// revocation, and a temporary room that expires only when empty on every node. Run twice: two in-process
// nodes on the in-memory bus and presence, and two nodes on Redis + PostgreSQL, where a Redis restart under
// traffic must deliver no gap, and a SIGKILLed third node's members (default liveness TTL) must leave
// everyone's presence within 15 s.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Context, Effect, Exit, Layer, Scope } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, CloseCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { PresenceChange } from "../../proto/gen/es/chat/v1/presence_pb.js";
import { freePort, startPostgres, startRedis, waitForPort, type Postgres, type Redis } from "../../scripts/services.ts";
import { MemoryNetwork } from "../src/bus/bus.ts";
import { REAP_INTERVAL_MS } from "../src/bus/relay.ts";
import type { Config } from "../src/config.ts";
import { PresenceTable } from "../src/presence/presence.ts";
import { PostgresStore } from "../src/store/postgres.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { StorageHealth, Store } from "../src/store/store.ts";
import { startServer, type TestServer } from "../src/testing.ts";
import { errorCode, eventually, sleep } from "./helpers.ts";
import { registered, uniqueName, WireClient } from "./wire-client.ts";

const GRACE_MS = 800;
const NODE_TTL_MS = 3000;
const generous: Partial<Config> = {
  roomGraceMs: GRACE_MS,
  typingTtlMs: 2000,
  gapFillMs: 100,
  nodeTtlMs: NODE_TTL_MS,
  rateLimitPerSec: 1000,
  rateLimitBurst: 1000,
  registerPerIpPerMin: 1000,
  loginPerIpPerMin: 1000,
  joinFailuresPerMin: 1000,
  logLevel: "error",
};

interface Cluster {
  readonly a: TestServer;
  readonly b: TestServer;
}

/** Opens a second connection of an existing session on `url` (a user's other device, same token). */
const device = async (url: string, token: string) => {
  const c = await WireClient.open(url);
  await c.call({ case: "resume", value: { sessionToken: token } }, "authOk");
  return c;
};

const createRoom = (c: WireClient, persistent = false) =>
  c.call({ case: "createRoom", value: { name: persistent ? uniqueName("room") : "", persistent } }, "roomJoined");
const joinRoom = (c: WireClient, code: string) => c.call({ case: "joinRoom", value: { code } }, "roomJoined");
const messageSeqs = (c: WireClient, room: string) =>
  c.frames.flatMap((f) =>
    f.kind.case === "message" && f.kind.value.roomCode === room
      ? [{ seq: Number(f.kind.value.seq), id: f.kind.value.clientMessageId }]
      : [],
  );

const sharedSuite = (name: string, cluster: () => Cluster) =>
  describe(name, () => {
    it(
      "message actions cross nodes as events in the room's one seq: edit, reply, reaction, delete; DM edits too",
      { timeout: 30_000 },
      async () => {
        const { a, b } = cluster();
        const ann = await registered(a.wsUrl);
        const bob = await registered(b.wsUrl);
        const code = (await createRoom(ann.client)).room!.code;
        await joinRoom(bob.client, code);
        const first = await ann.client.call(
          { case: "sendMessage", value: { roomCode: code, clientMessageId: "m1", text: "helo" } },
          "sendAck",
        );
        const conv = { case: "roomCode" as const, value: code };
        const edit = await ann.client.call(
          { case: "editMessage", value: { conversation: conv, targetSeq: first.seq, clientMessageId: "e1", text: "hello" } },
          "sendAck",
        );
        const react = await bob.client.call(
          { case: "react", value: { conversation: conv, targetSeq: first.seq, clientMessageId: "r1", emoji: "👍", add: true } },
          "sendAck",
        );
        const reply = await bob.client.call(
          { case: "sendMessage", value: { roomCode: code, clientMessageId: "m2", text: "hi", replyToSeq: first.seq } },
          "sendAck",
        );
        const del = await ann.client.call(
          { case: "deleteMessage", value: { conversation: conv, targetSeq: first.seq, clientMessageId: "d1" } },
          "sendAck",
        );
        const want = [first.seq, edit.seq, react.seq, reply.seq, del.seq].map(Number);
        expect(want).toEqual([1, 2, 3, 4, 5]);
        // Each node's members get every event once, in seq order, with the action and the quote.
        for (const m of [ann, bob]) {
          await eventually(() => messageSeqs(m.client, code).length >= 5, 10_000, "every action event");
          const events = m.client.frames.flatMap((f) =>
            f.kind.case === "message" && f.kind.value.roomCode === code ? [f.kind.value] : [],
          );
          expect(events.map((e) => Number(e.seq))).toEqual(want);
          expect(events.map((e) => e.action?.targetSeq ?? 0n)).toEqual([0n, 1n, 1n, 0n, 1n]);
          expect(events[3]!.replyQuote).toMatchObject({ sender: ann.username, text: "hello" });
        }
        const dm = await ann.client.call(
          { case: "sendDirect", value: { recipient: bob.username, clientMessageId: "d", text: "psst" } },
          "directAck",
        );
        const dmEdit = await ann.client.call(
          {
            case: "editMessage",
            value: { conversation: { case: "peer", value: bob.username }, targetSeq: dm.seq, clientMessageId: "de", text: "psst!" },
          },
          "directAck",
        );
        expect(await bob.client.push("directMessage", (m) => m.seq === dmEdit.seq, 10_000)).toMatchObject({
          text: "psst!",
          action: { targetSeq: dm.seq },
        });
        ann.client.close();
        bob.client.close();
      },
    );

    it("members on both nodes see every message of a room once, in the same seq order, whoever sent it", { timeout: 30_000 }, async () => {
      const { a, b } = cluster();
      const ann = await registered(a.wsUrl);
      const bob = await registered(b.wsUrl);
      const cat = await registered(a.wsUrl);
      const room = await createRoom(ann.client);
      const code = room.room!.code;
      await joinRoom(bob.client, code);
      await joinRoom(cat.client, code);
      const N = 40;
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < N; i++) {
        sends.push(
          ann.client.call(
            { case: "sendMessage", value: { roomCode: code, clientMessageId: `a${i}`, text: `from a ${i}` } },
            "sendAck",
            10_000,
          ),
        );
        sends.push(
          bob.client.call(
            { case: "sendMessage", value: { roomCode: code, clientMessageId: `b${i}`, text: `from b ${i}` } },
            "sendAck",
            10_000,
          ),
        );
      }
      await Promise.all(sends);
      const all = Array.from({ length: 2 * N }, (_, i) => i + 1);
      for (const m of [ann, bob, cat]) await eventually(() => messageSeqs(m.client, code).length >= 2 * N, 10_000, "every message");
      const seen = [ann, bob, cat].map((m) => messageSeqs(m.client, code));
      for (const s of seen) expect(s.map((x) => x.seq)).toEqual(all);
      expect(seen[1]).toEqual(seen[0]);
      expect(seen[2]).toEqual(seen[0]);
      for (const m of [ann, bob, cat]) m.client.close();
    });

    it(
      "presence across nodes: the join snapshot lists remote members, JOINED/LEFT once per user however many devices and nodes",
      { timeout: 30_000 },
      async () => {
        const { a, b } = cluster();
        const ann = await registered(a.wsUrl);
        const bob = await registered(b.wsUrl);
        const code = (await createRoom(ann.client)).room!.code;
        const joined = await joinRoom(bob.client, code);
        expect(joined.members.map((m) => m.username).sort()).toEqual([ann.username, bob.username].sort());
        expect(joined.memberCount).toBe(2);
        expect(await ann.client.push("presence", (p) => p.username === bob.username)).toMatchObject({
          change: PresenceChange.JOINED,
          memberCount: 2,
        });
        // Bob's second device, on the other node: no second JOINED.
        const bob2 = await device(a.wsUrl, bob.auth.sessionToken);
        await joinRoom(bob2, code);
        bob.client.close();
        await sleep(300);
        await ann.client.call({ case: "ping", value: {} }, "pong");
        expect(ann.client.frames.filter((f) => f.kind.case === "presence")).toEqual([]);
        bob2.close();
        expect(await ann.client.push("presence", (p) => p.username === bob.username)).toMatchObject({
          change: PresenceChange.LEFT,
          memberCount: 1,
        });
        ann.client.close();
      },
    );

    it("room list counts and the online list are cluster-wide; online/offline pushes cross nodes", { timeout: 30_000 }, async () => {
      const { a, b } = cluster();
      const watcher = await registered(b.wsUrl);
      await watcher.client.call({ case: "onlineUsers", value: { subscribe: true } }, "onlineUsers");
      const dan = await registered(a.wsUrl);
      expect(await watcher.client.push("userPresence", (p) => p.username === dan.username)).toMatchObject({ online: true });
      const listed = await watcher.client.call({ case: "onlineUsers", value: { subscribe: true } }, "onlineUsers");
      expect(listed.usernames).toContain(dan.username);
      expect(listed.usernames).toContain(watcher.username);
      const persistent = await createRoom(dan.client, true);
      const rooms = await watcher.client.call({ case: "listRooms", value: {} }, "roomList");
      expect(rooms.rooms.find((r) => r.room?.code === persistent.room!.code)?.memberCount).toBe(1);
      dan.client.close();
      expect(await watcher.client.push("userPresence", (p) => p.username === dan.username)).toMatchObject({ online: false });
      watcher.client.close();
    });

    it("typing and direct messages reach the other node; a DM reaches the sender's other devices too", { timeout: 30_000 }, async () => {
      const { a, b } = cluster();
      const ann = await registered(a.wsUrl);
      const bob = await registered(b.wsUrl);
      const code = (await createRoom(ann.client)).room!.code;
      await joinRoom(bob.client, code);
      await ann.client.call({ case: "typing", value: { roomCode: code, typing: true } }, "ok");
      expect(await bob.client.push("typing", (t) => t.username === ann.username)).toMatchObject({ roomCode: code, typing: true });
      const ann2 = await device(b.wsUrl, ann.auth.sessionToken);
      await ann.client.call(
        { case: "sendDirect", value: { recipient: bob.username, clientMessageId: "dm1", text: "hello across" } },
        "directAck",
      );
      expect(await bob.client.push("directMessage")).toMatchObject({ sender: ann.username, text: "hello across" });
      expect(await ann2.push("directMessage")).toMatchObject({ sender: ann.username, text: "hello across" });
      for (const c of [ann.client, ann2, bob.client]) c.close();
    });

    it("logout on one node closes the session's connections on the other with 4104; other sessions stay", { timeout: 30_000 }, async () => {
      const { a, b } = cluster();
      const ann = await registered(a.wsUrl);
      const elsewhere = await device(b.wsUrl, ann.auth.sessionToken);
      const other = await WireClient.open(b.wsUrl);
      await other.call({ case: "login", value: { username: ann.username, password: ann.password } }, "authOk");
      await ann.client.call({ case: "logout", value: {} }, "ok");
      expect(await elsewhere.waitClose()).toBe(CloseCode.SESSION_REVOKED);
      await other.call({ case: "ping", value: {} }, "pong");
      ann.client.close();
      other.close();
    });

    it("a temporary room expires only when it has been empty on every node for the grace period", { timeout: 30_000 }, async () => {
      const { a, b } = cluster();
      const ann = await registered(a.wsUrl);
      const bob = await registered(b.wsUrl);
      const code = (await createRoom(ann.client)).room!.code;
      await joinRoom(bob.client, code);
      await ann.client.call({ case: "leaveRoom", value: { code } }, "ok");
      await sleep(GRACE_MS * 2);
      // Still alive: Bob (on the other node) never left.
      await joinRoom(ann.client, code);
      await ann.client.call({ case: "leaveRoom", value: { code } }, "ok");
      await bob.client.call({ case: "leaveRoom", value: { code } }, "ok");
      // A probe that finds the room would join it and keep it alive: look once, well after the grace.
      await sleep(GRACE_MS * 3);
      expect(errorCode(await ann.client.request({ case: "joinRoom", value: { code } }))).toBe(ErrorCode.NOT_FOUND);
      ann.client.close();
      bob.client.close();
    });
  });

describe("two nodes, in-memory bus and presence, one SQLite store", () => {
  let dir: string;
  let storeScope: Scope.Closeable;
  let nodes: Cluster;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "protochat-nodes-"));
    storeScope = await Effect.runPromise(Scope.make());
    const context = await Effect.runPromise(Layer.buildWithScope(SqliteStore.layer({ file: join(dir, "chat.db") }), storeScope));
    const store = Layer.succeedContext(
      Context.make(Store, Context.get(context, Store)).pipe(Context.add(StorageHealth, Context.get(context, StorageHealth))),
    );
    const memory = { network: new MemoryNetwork(), table: new PresenceTable() };
    const a = await startServer(generous, { store, memory });
    const b = await startServer(generous, { store, memory });
    nodes = { a, b };
  }, 30_000);
  afterAll(async () => {
    await nodes?.a.close();
    await nodes?.b.close();
    await Effect.runPromise(Scope.close(storeScope, Exit.void));
    rmSync(dir, { recursive: true, force: true });
  });
  sharedSuite("in memory", () => nodes);
});

describe("two nodes on Redis and PostgreSQL", () => {
  let redis: Redis;
  let pg: Postgres;
  let nodes: Cluster;
  beforeAll(async () => {
    [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
    const overrides = { ...generous, redisUrl: redis.url };
    // One after the other: the first creates the configured persistent room, the second finds it.
    const a = await startServer(overrides, { store: PostgresStore.layer({ url: pg.url }) });
    const b = await startServer(overrides, { store: PostgresStore.layer({ url: pg.url }) });
    nodes = { a, b };
  }, 60_000);
  afterAll(async () => {
    await nodes?.a.close();
    await nodes?.b.close();
    await redis?.destroy();
    pg?.destroy();
  });
  sharedSuite("redis", () => nodes);

  it(
    "Redis killed and restarted empty under traffic: every member still gets every message once, in order",
    { timeout: 60_000 },
    async () => {
      const { a, b } = nodes;
      const ann = await registered(a.wsUrl);
      const bob = await registered(b.wsUrl);
      const code = (await createRoom(ann.client)).room!.code;
      await joinRoom(bob.client, code);
      // Two outages: one in the middle of the stream (later messages reveal the gap), one at its end (only
      // the catch-up after the reconnect can fill it).
      const N = 120;
      for (let i = 0; i < N; i++) {
        await ann.client.call(
          { case: "sendMessage", value: { roomCode: code, clientMessageId: `r${i}`, text: `m${i}` } },
          "sendAck",
          10_000,
        );
        if (i === 30 || i === 100) await redis.kill();
        if (i === 60) await redis.start();
        await sleep(10);
      }
      await redis.start();
      const started = Date.now();
      await eventually(() => messageSeqs(bob.client, code).length >= N, 20_000, "every message on the other node");
      const got = messageSeqs(bob.client, code).map((x) => x.seq);
      expect(got).toEqual(Array.from({ length: N }, (_, i) => i + 1));
      expect(messageSeqs(ann.client, code).map((x) => x.seq)).toEqual(got);
      console.log(
        `redis restart under traffic: ${N} messages, 0 gaps, 0 duplicates on the other node; last one ${Date.now() - started} ms after the sender finished`,
      );
      ann.client.close();
      bob.client.close();
    },
  );

  it(
    "a SIGKILLed node's members leave everyone's presence (LEFT, counts, online list) within its liveness bound",
    { timeout: 60_000 },
    async () => {
      // The real server process (main.ts) on the same database and Redis, with a 3 s liveness TTL so the bound
      // (TTL + the 2 s reap) leaves room for a busy machine; the cluster fault matrix checks the default 10 s TTL.
      const port = await freePort();
      const child = spawn(
        process.execPath,
        [
          "server/src/main.ts",
          "--port",
          String(port),
          "--database-url",
          pg.url,
          "--redis-url",
          redis.url,
          "--node-ttl-ms",
          "3000",
          "--log-level",
          "error",
        ],
        { env: { ...process.env, DATA_DIR: mkdtempSync(join(tmpdir(), "protochat-node-")) }, stdio: ["ignore", "inherit", "inherit"] },
      );
      try {
        await waitForPort(port, 30_000);
        const ann = await registered(nodes.a.wsUrl);
        await ann.client.call({ case: "onlineUsers", value: { subscribe: true } }, "onlineUsers");
        const code = (await createRoom(ann.client)).room!.code;
        const eve = await registered(`ws://127.0.0.1:${port}/ws`);
        await joinRoom(eve.client, code);
        expect(await ann.client.push("presence", (p) => p.username === eve.username)).toMatchObject({
          change: PresenceChange.JOINED,
          memberCount: 2,
        });
        const killedAt = Date.now();
        child.kill("SIGKILL");
        const left = await ann.client.push("presence", (p) => p.username === eve.username, 15_000);
        const elapsed = Date.now() - killedAt;
        expect(left).toMatchObject({ change: PresenceChange.LEFT, memberCount: 1 });
        expect(await ann.client.push("userPresence", (p) => p.username === eve.username && !p.online, 2000)).toMatchObject({
          online: false,
        });
        const online = await ann.client.call({ case: "onlineUsers", value: { subscribe: true } }, "onlineUsers");
        expect(online.usernames).not.toContain(eve.username);
        console.log(
          `SIGKILLed node: its member left presence ${elapsed} ms after the kill (--node-ttl-ms 3000; bound TTL + ${REAP_INTERVAL_MS} ms, asserted loosely)`,
        );
        expect(elapsed).toBeLessThan(15_000);
        // Not before its liveness key can have lapsed (refreshed every TTL/3), whatever the presence grace
        // (default 5 s: the liveness bound, not the grace, applies to a dead node), and once: no second LEFT or
        // offline from a later reap.
        expect(elapsed).toBeGreaterThanOrEqual((3000 * 2) / 3 - 100);
        await sleep(REAP_INTERVAL_MS + 500);
        const again = ann.client.frames.filter(
          (f) =>
            (f.kind.case === "presence" && f.kind.value.username === eve.username && f.kind.value.change === PresenceChange.LEFT) ||
            (f.kind.case === "userPresence" && f.kind.value.username === eve.username && !f.kind.value.online),
        );
        expect(again).toEqual([]);
        ann.client.close();
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    },
  );
});
