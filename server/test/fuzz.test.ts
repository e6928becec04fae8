// Property test of the decoding edge: valid ClientFrame encodings, mutated (bit flips, truncation, inserted
// and overwritten bytes, splices, pure noise), sent on authenticated sockets of a real server. Whatever the
// bytes, the server answers the Ping that follows (or the socket ended by a logout the mutation produced),
// never replies INTERNAL, and afterwards still serves a fresh client end to end.
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientFrameSchema } from "../../proto/gen/es/chat/v1/envelope_pb.js";
import { CloseCode, ErrorCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { startServer, type TestServer } from "../src/testing.ts";
import { health } from "./helpers.ts";
import { registered, WireClient } from "./wire-client.ts";

type FrameInit = MessageInitShape<typeof ClientFrameSchema>;

let server: TestServer;
beforeAll(async () => {
  // Violations and rate are not what is under test here: with the defaults every socket would soon be closed.
  server = await startServer({
    maxViolations: 1_000_000,
    rateLimitPerSec: 1_000_000,
    rateLimitBurst: 1_000_000,
    registerPerIpPerMin: 1000,
    loginPerIpPerMin: 1000,
    joinFailuresPerMin: 1_000_000,
    maxRoomsPerConnection: 10_000,
  });
});
afterAll(() => server.close());

/** Valid frames of every request kind, with fields drawn from known rooms and users as well as noise. */
const frameArb = (codes: ReadonlyArray<string>, users: ReadonlyArray<string>): fc.Arbitrary<FrameInit> => {
  const str = fc.string({ maxLength: 24 });
  const code = fc.oneof(fc.constantFrom(...codes), str);
  const user = fc.oneof(fc.constantFrom(...users), str);
  const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
  const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
  const small64 = fc.bigInt({ min: 0n, max: 40n });
  const id = fc.integer({ min: 0, max: 0xffffffff });
  const kind = fc.oneof(
    fc.record({ case: fc.constant("ping" as const), value: fc.record({ nonce: u64, clientTimeMs: i64 }) }),
    fc.record({
      case: fc.constant("sendMessage" as const),
      value: fc.record({ roomCode: code, clientMessageId: str, text: fc.string({ maxLength: 64 }) }),
    }),
    fc.record({
      case: fc.constant("history" as const),
      value: fc.record({
        roomCode: code,
        anchorSeq: fc.oneof(small64, u64),
        direction: fc.integer({ min: 0, max: 3 }),
        limit: fc.integer({ min: 0, max: 300 }),
      }),
    }),
    fc.record({ case: fc.constant("recover" as const), value: fc.record({ roomCode: code, afterSeq: fc.oneof(small64, u64) }) }),
    fc.record({ case: fc.constant("joinRoom" as const), value: fc.record({ code }) }),
    fc.record({ case: fc.constant("leaveRoom" as const), value: fc.record({ code }) }),
    fc.record({ case: fc.constant("createRoom" as const), value: fc.record({ name: str, persistent: fc.boolean() }) }),
    fc.record({ case: fc.constant("listRooms" as const), value: fc.constant({}) }),
    fc.record({ case: fc.constant("typing" as const), value: fc.record({ roomCode: code, typing: fc.boolean() }) }),
    fc.record({ case: fc.constant("onlineUsers" as const), value: fc.record({ subscribe: fc.boolean() }) }),
    fc.record({
      case: fc.constant("sendDirect" as const),
      value: fc.record({ recipient: user, clientMessageId: str, text: fc.string({ maxLength: 64 }) }),
    }),
    fc.record({
      case: fc.constant("directHistory" as const),
      value: fc.record({
        peer: user,
        anchorSeq: small64,
        direction: fc.integer({ min: 0, max: 2 }),
        limit: fc.integer({ min: 0, max: 250 }),
      }),
    }),
    fc.record({ case: fc.constant("register" as const), value: fc.record({ username: str, password: str }) }),
    fc.record({ case: fc.constant("login" as const), value: fc.record({ username: user, password: str }) }),
    fc.record({ case: fc.constant("resume" as const), value: fc.record({ sessionToken: str }) }),
    fc.record({ case: fc.constant("logout" as const), value: fc.constant({}) }),
  );
  return fc.record({ id, kind }) as fc.Arbitrary<FrameInit>;
};

type Mutation = (bytes: Uint8Array) => Uint8Array;
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }).map(({ at, bit }): Mutation => (b) => {
    if (b.length === 0) return b;
    const out = b.slice();
    out[at % b.length]! ^= 1 << bit;
    return out;
  }),
  fc.nat().map(
    (keep): Mutation =>
      (b) =>
        b.subarray(0, b.length === 0 ? 0 : keep % b.length),
  ),
  fc.record({ at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }).map(({ at, bytes }): Mutation => (b) => {
    const i = b.length === 0 ? 0 : at % (b.length + 1);
    return new Uint8Array([...b.subarray(0, i), ...bytes, ...b.subarray(i)]);
  }),
  fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }).map(({ at, value }): Mutation => (b) => {
    if (b.length === 0) return b;
    const out = b.slice();
    out[at % b.length] = value;
    return out;
  }),
  fc.uint8Array({ maxLength: 64 }).map(
    (noise): Mutation =>
      () =>
        noise,
  ),
  fc.record({ from: fc.nat(), to: fc.nat() }).map(({ from, to }): Mutation => (b) => {
    // Repeat a slice: duplicated fields, a oneof set twice, nested lengths that no longer add up.
    if (b.length === 0) return b;
    const i = from % b.length;
    const j = i + (to % (b.length - i + 1));
    return new Uint8Array([...b, ...b.subarray(i, j)]);
  }),
);

interface Case {
  readonly frames: ReadonlyArray<{ readonly init: FrameInit; readonly mutations: ReadonlyArray<Mutation> }>;
}

const mutatedBytes = (init: FrameInit, mutations: ReadonlyArray<Mutation>): Uint8Array => {
  let bytes: Uint8Array = toBinary(ClientFrameSchema, create(ClientFrameSchema, init));
  for (const mutate of mutations) bytes = mutate(bytes);
  return bytes;
};

describe("decoding fuzz", () => {
  it("no mutated frame stops the server from answering, and it still serves a fresh client", async () => {
    const NUM_RUNS = 500;
    // A pool of authenticated sockets, each its own user with a room; a logout produced by a mutation ends a
    // socket (close 1000) and a fresh user takes its place.
    const users = await Promise.all(Array.from({ length: 4 }, () => registered(server.wsUrl)));
    const codes: string[] = [];
    for (const u of users) codes.push((await u.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code);
    const pool: WireClient[] = users.map((u) => u.client);
    const names = users.map((u) => u.username);
    let replacements = 0;
    const internal: string[] = [];
    let nonce = 0n;

    const caseArb: fc.Arbitrary<Case> = fc.record({
      frames: fc.array(fc.record({ init: frameArb(codes, names), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) }), {
        minLength: 1,
        maxLength: 4,
      }),
    });

    let run = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ frames }) => {
        const slot = run++ % pool.length;
        let client = pool[slot]!;
        if (client.closeCode !== undefined || client.ws.readyState !== client.ws.OPEN) {
          replacements++;
          const fresh = await registered(server.wsUrl);
          await fresh.client.call({ case: "joinRoom", value: { code: codes[slot]! } }, "roomJoined");
          client = pool[slot] = fresh.client;
        }
        const sent = frames.map(({ init, mutations }) => mutatedBytes(init, mutations));
        for (const bytes of sent) client.sendRaw(bytes);
        // The server is still answering this socket: the Ping's Pong comes back (replies are in request
        // order), unless a mutated frame was a logout, which ends the socket with 1000 after its Ok.
        const n = 0xc0ffee00000000n + ++nonce;
        client.send({ case: "ping", value: { nonce: n } }, 0xfffffff0);
        try {
          await client.waitFor((f) => f.kind.case === "pong" && f.kind.value.nonce === n, 5000, "pong");
        } catch (e) {
          if (client.closeCode === undefined) throw e;
          expect(client.closeCode).toBe(CloseCode.NORMAL);
        }
        // A request that made the server fail (INTERNAL) is a bug whatever the bytes: keep them to reproduce.
        if (client.frames.some((f) => f.kind.case === "error" && f.kind.value.code === ErrorCode.INTERNAL)) {
          internal.push(sent.map((b) => Buffer.from(b).toString("hex")).join(" "));
        }
        client.frames.length = 0;
      }),
      { numRuns: NUM_RUNS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31), verbose: 1 },
    );
    expect(internal, "frames (hex) answered with INTERNAL").toEqual([]);
    console.log(`fuzz: ${NUM_RUNS} runs, ${replacements} sockets replaced after a logout`);

    // The server is healthy and serves a fresh client end to end.
    expect((await health(server.httpUrl)).status).toBe(200);
    const a = await registered(server.wsUrl);
    const b = await registered(server.wsUrl);
    const { room } = await a.client.call({ case: "createRoom", value: { name: "after the fuzz" } }, "roomJoined");
    await b.client.call({ case: "joinRoom", value: { code: room!.code } }, "roomJoined");
    const ack = await a.client.call(
      { case: "sendMessage", value: { roomCode: room!.code, clientMessageId: "post-fuzz", text: "still alive" } },
      "sendAck",
    );
    expect(ack.seq).toBe(1n);
    expect(await b.client.push("message")).toMatchObject({ seq: 1n, text: "still alive", sender: a.username });
    for (const c of [a.client, b.client, ...pool]) c.close();
  });

  it("before authentication too: each mutated frame is answered, or ends the socket with 4101 as a non-auth request", async () => {
    const NUM_RUNS = 150;
    const owner = await registered(server.wsUrl);
    const code = (await owner.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
    const internal: string[] = [];
    const closes = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.record({ init: frameArb([code], [owner.username]), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) }),
        async ({ init, mutations }) => {
          const client = await WireClient.open(server.wsUrl);
          const bytes = mutatedBytes(init, mutations);
          client.sendRaw(bytes);
          client.send({ case: "ping", value: { nonce: 0xc0ffeen } }, 0xfffffff0);
          try {
            // Register and login hash a password first: allow for it.
            await client.waitFor((f) => f.kind.case === "pong" && f.kind.value.nonce === 0xc0ffeen, 5000, "pong");
          } catch (e) {
            if (client.closeCode === undefined) throw e;
            // The only way to end a socket with one frame before auth: a request other than
            // register/login/resume/ping (4101). A mutated register that succeeds just authenticates it.
            expect(client.closeCode).toBe(CloseCode.NOT_AUTHENTICATED);
          }
          closes.set(client.closeCode ?? 0, (closes.get(client.closeCode ?? 0) ?? 0) + 1);
          if (client.frames.some((f) => f.kind.case === "error" && f.kind.value.code === ErrorCode.INTERNAL))
            internal.push(Buffer.from(bytes).toString("hex"));
          client.close();
        },
      ),
      { numRuns: NUM_RUNS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31), verbose: 1 },
    );
    expect(internal, "frames (hex) answered with INTERNAL").toEqual([]);
    console.log(`fuzz before auth: ${NUM_RUNS} runs, outcomes by close code (0 = still open)`, Object.fromEntries(closes));
    // The owner's socket and room were never disturbed.
    await owner.client.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: "owner", text: "fine" } }, "sendAck");
    owner.client.close();
  });
});
