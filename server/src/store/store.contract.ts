// The Store contract as one suite, run against every layer (store.test.ts: SQLite; postgres.test.ts:
// PostgreSQL): seq assignment, idempotency, pages, DMs, rooms, sessions, persistence across a reopen.
import { assert, describe, it } from "@effect/vitest";
import { Effect, Exit, Scope } from "effect";
import { type ActionKind, freshState, MAX_EMOJI_PER_MESSAGE, type PageQuery, type Store } from "./store.ts";

/** How the suite reaches a layer. */
export interface StoreHarness {
  /** A fresh, empty place for a store (a file, a database), removed with the scope. */
  readonly location: Effect.Effect<string, unknown, Scope.Scope>;
  /** Opens the store at `location` (applying migrations); closes it with the scope, as a restart would. */
  readonly open: (
    location: string,
  ) => Effect.Effect<
    { readonly store: Store["Service"]; readonly stats: () => { readonly batches: number; readonly appends: number } },
    unknown,
    Scope.Scope
  >;
}

export const room = (code: string, persistent = false, name = `room ${code}`) => ({
  code,
  name,
  persistent,
  createdBy: "alice",
  createdAtMs: 1_000,
});

export const msg = (roomCode: string, clientMessageId: string, sender = "alice", text = `text ${clientMessageId}`) => ({
  roomCode,
  sender,
  clientMessageId,
  text,
  sentAtMs: 2_000,
});

export const seqs = (page: { messages: ReadonlyArray<{ seq: bigint }> }) => page.messages.map((m) => Number(m.seq));

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

export const storeContract = (name: string, harness: () => StoreHarness) =>
  describe(`Store contract: ${name}`, () => {
    /** A store at a fresh location, for one test. */
    const fresh = Effect.gen(function* () {
      const h = harness();
      return yield* h.open(yield* h.location);
    });
    const withStore = <A, E>(use: (store: Store["Service"]) => Effect.Effect<A, E>) =>
      Effect.scoped(Effect.flatMap(fresh, ({ store }) => use(store)));

    it.live("assigns gap-free seqs from 1 under concurrent appends, one room each, in few commits", () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { store, stats } = yield* fresh;
          yield* store.createRoom(room("AAAAAA"));
          yield* store.createRoom(room("BBBBBB"));
          // Room messages and direct messages in the same burst share batches.
          const [results, dms] = yield* Effect.all(
            [
              Effect.forEach(
                Array.from({ length: 200 }, (_, i) => msg(i % 2 === 0 ? "AAAAAA" : "BBBBBB", `m${i}`, `user${i % 7}`)),
                (m) => store.appendMessage(m),
                { concurrency: "unbounded" },
              ),
              Effect.forEach(
                range(20),
                (i) => store.appendDirect({ sender: "user1", recipient: "user2", clientMessageId: `d${i}`, text: "dm", sentAtMs: i }),
                { concurrency: "unbounded" },
              ),
            ],
            { concurrency: "unbounded" },
          );
          assert.deepStrictEqual(
            dms.map((r) => Number(r.message.seq)).sort((a, b) => a - b),
            range(20),
          );
          for (const code of ["AAAAAA", "BBBBBB"]) {
            const mine = results.filter((r) => r.message.roomCode === code).map((r) => Number(r.message.seq));
            assert.deepStrictEqual(
              [...mine].sort((a, b) => a - b),
              range(100),
            );
            const page = yield* store.readMessages(code, { anchorSeq: 0n, direction: "forward", limit: 200 });
            assert.deepStrictEqual(seqs(page), range(100));
            assert.strictEqual((yield* store.findRoom(code))?.lastSeq, 100n);
          }
          assert.isTrue(results.every((r) => !r.duplicate));
          // Concurrent callers share transactions (group commit): far fewer commits than appends.
          assert.isBelow(stats().batches, 20);
          assert.strictEqual(stats().appends, 220);
        }),
      ),
    );

    it.live("a retried append returns the original message as a duplicate and stores nothing", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* store.createRoom(room("CCCCCC"));
          const first = yield* store.appendMessage(msg("CCCCCC", "id-1", "alice", "hello"));
          yield* store.appendMessage(msg("CCCCCC", "id-2"));
          const retry = yield* store.appendMessage({ ...msg("CCCCCC", "id-1", "alice", "changed"), sentAtMs: 9_999 });
          assert.isFalse(first.duplicate);
          assert.isTrue(retry.duplicate);
          assert.deepStrictEqual(retry.message, first.message);
          assert.strictEqual(retry.message.text, "hello");
          // The same client id from another sender is a different message.
          const other = yield* store.appendMessage(msg("CCCCCC", "id-1", "bob"));
          assert.strictEqual(other.message.seq, 3n);
          assert.isFalse(other.duplicate);
          // Retries racing in one batch are still stored once.
          const racing = yield* Effect.all(
            [1, 2, 3].map(() => store.appendMessage(msg("CCCCCC", "id-9"))),
            {
              concurrency: "unbounded",
            },
          );
          assert.deepStrictEqual(
            racing.map((r) => [Number(r.message.seq), r.duplicate]),
            [
              [4, false],
              [4, true],
              [4, true],
            ],
          );
          const all = yield* store.readMessages("CCCCCC", { anchorSeq: 0n, direction: "forward", limit: 50 });
          assert.deepStrictEqual(seqs(all), [1, 2, 3, 4]);
        }),
      ),
    );

    it.live("an append to an unknown room fails alone; its batch neighbours are stored", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* store.createRoom(room("DDDDDD"));
          const [good, bad, good2] = yield* Effect.all(
            [
              Effect.exit(store.appendMessage(msg("DDDDDD", "a"))),
              Effect.exit(store.appendMessage(msg("NOROOM", "b"))),
              Effect.exit(store.appendMessage(msg("DDDDDD", "c"))),
            ],
            { concurrency: "unbounded" },
          );
          assert.isTrue(Exit.isSuccess(good) && Exit.isSuccess(good2));
          assert.isTrue(Exit.isFailure(bad));
          if (Exit.isFailure(bad)) assert.include(String(bad.cause), "StoreError");
          const page = yield* store.readMessages("DDDDDD", { anchorSeq: 0n, direction: "forward", limit: 10 });
          assert.deepStrictEqual(seqs(page), [1, 2]);
        }),
      ),
    );

    it.live("pages backward and forward around an anchor, ascending, with hasMore", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* store.createRoom(room("EEEEEE"));
          for (let i = 1; i <= 10; i++) yield* store.appendMessage(msg("EEEEEE", `m${i}`));
          const read = (q: PageQuery) => store.readMessages("EEEEEE", q);
          const newest = yield* read({ anchorSeq: 0n, direction: "backward", limit: 3 });
          assert.deepStrictEqual([seqs(newest), newest.hasMore], [[8, 9, 10], true]);
          const older = yield* read({ anchorSeq: 8n, direction: "backward", limit: 3 });
          assert.deepStrictEqual([seqs(older), older.hasMore], [[5, 6, 7], true]);
          const oldest = yield* read({ anchorSeq: 4n, direction: "backward", limit: 3 });
          assert.deepStrictEqual([seqs(oldest), oldest.hasMore], [[1, 2, 3], false]);
          const first = yield* read({ anchorSeq: 0n, direction: "forward", limit: 4 });
          assert.deepStrictEqual([seqs(first), first.hasMore], [[1, 2, 3, 4], true]);
          const last = yield* read({ anchorSeq: 6n, direction: "forward", limit: 4 });
          assert.deepStrictEqual([seqs(last), last.hasMore], [[7, 8, 9, 10], false]);
          const beyond = yield* read({ anchorSeq: 10n, direction: "forward", limit: 4 });
          assert.deepStrictEqual([seqs(beyond), beyond.hasMore], [[], false]);
          // A uint64 anchor beyond int64 means "after everything" / "before everything".
          const huge = yield* read({ anchorSeq: 18_446_744_073_709_551_615n, direction: "backward", limit: 2 });
          assert.deepStrictEqual([seqs(huge), huge.hasMore], [[9, 10], true]);
          const empty = yield* store.readMessages("NOROOM", { anchorSeq: 0n, direction: "backward", limit: 5 });
          assert.deepStrictEqual([seqs(empty), empty.hasMore], [[], false]);
          const stored = (yield* read({ anchorSeq: 0n, direction: "forward", limit: 1 })).messages[0];
          assert.deepStrictEqual(stored, {
            roomCode: "EEEEEE",
            seq: 1n,
            sender: "alice",
            sentAtMs: 2_000,
            text: "text m1",
            clientMessageId: "m1",
            ...freshState(0n),
          });
        }),
      ),
    );

    it.live("actions are events in the room's gap-free seq; reads show the target's current state and reply quote", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* store.createRoom(room("ACTION"));
          const act = (
            kind: ActionKind,
            targetSeq: bigint,
            clientMessageId: string,
            sender = "alice",
            extra: { text?: string; emoji?: string } = {},
          ) =>
            store.appendRoomAction({
              roomCode: "ACTION",
              kind,
              targetSeq,
              sender,
              clientMessageId,
              text: extra.text ?? "",
              emoji: extra.emoji ?? "",
              sentAtMs: 3_000,
            });
          yield* store.appendMessage(msg("ACTION", "m1")); // 1
          yield* store.appendMessage({ ...msg("ACTION", "m2", "bob"), replyToSeq: 1n }); // 2: bob replies to 1
          const edit = yield* act("edit", 1n, "e1", "alice", { text: "fixed" }); // 3
          assert.deepStrictEqual(
            [edit.message.seq, edit.duplicate, edit.message.action],
            [3n, false, { kind: "edit", targetSeq: 1n, emoji: "" }],
          );
          // A retried edit (same client id) applies once: the original event comes back.
          const again = yield* act("edit", 1n, "e1", "alice", { text: "other" });
          assert.deepStrictEqual([again.message.seq, again.duplicate, again.message.text], [3n, true, "fixed"]);
          yield* act("reaction-add", 1n, "r1", "bob", { emoji: "👍" }); // 4
          yield* act("reaction-add", 1n, "r2", "carol", { emoji: "🎉" }); // 5
          yield* act("reaction-add", 1n, "r3", "alice", { emoji: "👍" }); // 6
          yield* act("reaction-remove", 1n, "r4", "carol", { emoji: "🎉" }); // 7
          const page = yield* store.readMessages("ACTION", { anchorSeq: 0n, direction: "forward", limit: 50 });
          assert.deepStrictEqual(seqs(page), [1, 2, 3, 4, 5, 6, 7]);
          const first = page.messages[0]!;
          assert.deepStrictEqual(
            [first.text, first.editedAtMs, first.deleted, first.reactions, first.stateSeq],
            ["fixed", 3_000, false, [{ emoji: "👍", users: ["bob", "alice"] }], 7n],
          );
          assert.deepStrictEqual(
            [page.messages[1]!.replyToSeq, page.messages[1]!.replyQuote],
            [1n, { sender: "alice", text: "fixed", deleted: false }],
          );
          assert.deepStrictEqual(page.messages[6]!.action, { kind: "reaction-remove", targetSeq: 1n, emoji: "🎉" });

          // Refusals store nothing and use no seq.
          const refused = (effect: Effect.Effect<unknown, { readonly _tag: string }>) =>
            Effect.map(Effect.flip(effect), (error) => error._tag);
          assert.strictEqual(yield* refused(act("edit", 1n, "x1", "bob", { text: "mine now" })), "PermissionDenied");
          assert.strictEqual(yield* refused(act("delete", 2n, "x2", "alice")), "PermissionDenied");
          assert.strictEqual(yield* refused(act("edit", 99n, "x3", "alice", { text: "?" })), "NotFound");
          assert.strictEqual(yield* refused(act("reaction-add", 3n, "x4", "alice", { emoji: "👍" })), "NotFound"); // an action event

          // Delete: a tombstone; the edit event's text and the reactions are erased; the reply's quote says deleted.
          const del = yield* act("delete", 1n, "d1"); // 8
          assert.strictEqual(del.message.seq, 8n);
          assert.strictEqual(yield* refused(act("edit", 1n, "x5", "alice", { text: "back" })), "NotFound");
          assert.strictEqual(yield* refused(act("reaction-add", 1n, "x6", "bob", { emoji: "👍" })), "NotFound");
          const after = yield* store.readMessages("ACTION", { anchorSeq: 0n, direction: "forward", limit: 50 });
          assert.deepStrictEqual(seqs(after), [1, 2, 3, 4, 5, 6, 7, 8]);
          const tomb = after.messages[0]!;
          assert.deepStrictEqual([tomb.text, tomb.deleted, tomb.reactions, tomb.stateSeq], ["", true, [], 8n]);
          assert.strictEqual(after.messages[2]!.text, "");
          assert.deepStrictEqual(after.messages[1]!.replyQuote, { sender: "alice", text: "", deleted: true });
          // The next message continues the one sequence.
          assert.strictEqual((yield* store.appendMessage(msg("ACTION", "m3"))).message.seq, 9n);
        }),
      ),
    );

    it.live("a message carries at most MAX_EMOJI_PER_MESSAGE different emoji; direct messages take actions too", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* store.createRoom(room("EMOJIS"));
          yield* store.appendMessage(msg("EMOJIS", "m1"));
          const emoji = Array.from({ length: MAX_EMOJI_PER_MESSAGE + 1 }, (_, i) => String.fromCodePoint(0x1f600 + i));
          for (const [i, e] of emoji.slice(0, MAX_EMOJI_PER_MESSAGE).entries()) {
            yield* store.appendRoomAction({
              roomCode: "EMOJIS",
              kind: "reaction-add",
              targetSeq: 1n,
              sender: "bob",
              clientMessageId: `r${i}`,
              text: "",
              emoji: e,
              sentAtMs: 1,
            });
          }
          const over = yield* Effect.flip(
            store.appendRoomAction({
              roomCode: "EMOJIS",
              kind: "reaction-add",
              targetSeq: 1n,
              sender: "bob",
              clientMessageId: "over",
              text: "",
              emoji: emoji.at(-1)!,
              sentAtMs: 1,
            }),
          );
          assert.strictEqual(over._tag, "LimitExceeded");
          // Another user adding an emoji already there is fine.
          yield* store.appendRoomAction({
            roomCode: "EMOJIS",
            kind: "reaction-add",
            targetSeq: 1n,
            sender: "carol",
            clientMessageId: "c",
            text: "",
            emoji: emoji[0]!,
            sentAtMs: 1,
          });

          const dm = (sender: string, recipient: string, clientMessageId: string, replyToSeq = 0n) =>
            store.appendDirect({ sender, recipient, clientMessageId, text: `${sender}:${clientMessageId}`, sentAtMs: 5, replyToSeq });
          yield* dm("Alice", "Bob", "1"); // 1
          yield* dm("Bob", "Alice", "2", 1n); // 2
          const edit = yield* store.appendDirectAction({
            recipient: "Bob",
            kind: "edit",
            targetSeq: 1n,
            sender: "alice",
            clientMessageId: "e",
            text: "edited",
            emoji: "",
            sentAtMs: 6,
          });
          assert.strictEqual(edit.message.seq, 3n);
          const denied = yield* Effect.flip(
            store.appendDirectAction({
              recipient: "alice",
              kind: "delete",
              targetSeq: 1n,
              sender: "Bob",
              clientMessageId: "d",
              text: "",
              emoji: "",
              sentAtMs: 6,
            }),
          );
          assert.strictEqual(denied._tag, "PermissionDenied");
          yield* store.appendDirectAction({
            recipient: "Alice",
            kind: "reaction-add",
            targetSeq: 1n,
            sender: "Bob",
            clientMessageId: "r",
            text: "",
            emoji: "❤️",
            sentAtMs: 7,
          }); // 4
          yield* store.appendDirectAction({
            recipient: "Alice",
            kind: "delete",
            targetSeq: 2n,
            sender: "Bob",
            clientMessageId: "d2",
            text: "",
            emoji: "",
            sentAtMs: 8,
          }); // 5
          const strangers = yield* Effect.flip(
            store.appendDirectAction({
              recipient: "Carol",
              kind: "reaction-add",
              targetSeq: 1n,
              sender: "Alice",
              clientMessageId: "z",
              text: "",
              emoji: "❤️",
              sentAtMs: 8,
            }),
          );
          assert.strictEqual(strangers._tag, "NotFound");
          const page = yield* store.readDirect("bob", "ALICE", { anchorSeq: 0n, direction: "forward", limit: 10 });
          assert.deepStrictEqual(seqs(page), [1, 2, 3, 4, 5]);
          const [one, two] = page.messages;
          assert.deepStrictEqual(
            [one!.text, one!.editedAtMs, one!.reactions, one!.stateSeq],
            ["edited", 6, [{ emoji: "❤️", users: ["Bob"] }], 4n],
          );
          assert.deepStrictEqual(
            [two!.deleted, two!.text, two!.replyToSeq, two!.replyQuote],
            [true, "", 1n, { sender: "Alice", text: "edited", deleted: false }],
          );
        }),
      ),
    );

    it.live("a DM conversation is one sequence for both directions, whatever the case of the names", () =>
      withStore((store) =>
        Effect.gen(function* () {
          const dm = (sender: string, recipient: string, clientMessageId: string) =>
            store.appendDirect({ sender, recipient, clientMessageId, text: `${sender}:${clientMessageId}`, sentAtMs: 5 });
          const a = yield* dm("Alice", "Bob", "1");
          const b = yield* dm("Bob", "Alice", "1"); // same client id, other sender: a new message
          const c = yield* dm("Alice", "Bob", "2");
          const retry = yield* dm("ALICE", "bob", "1"); // same sender (case-insensitively) and id: the original
          const other = yield* dm("Alice", "Carol", "1"); // another conversation starts at 1
          assert.deepStrictEqual(
            [a, b, c].map((r) => Number(r.message.seq)),
            [1, 2, 3],
          );
          assert.deepStrictEqual([retry.duplicate, retry.message], [true, a.message]);
          assert.strictEqual(other.message.seq, 1n);
          const fromAlice = yield* store.readDirect("alice", "BOB", { anchorSeq: 0n, direction: "backward", limit: 10 });
          const fromBob = yield* store.readDirect("Bob", "Alice", { anchorSeq: 0n, direction: "backward", limit: 10 });
          assert.deepStrictEqual(fromAlice, fromBob);
          assert.deepStrictEqual(
            fromAlice.messages.map((m) => [m.sender, m.recipient, m.text]),
            [
              ["Alice", "Bob", "Alice:1"],
              ["Bob", "Alice", "Bob:1"],
              ["Alice", "Bob", "Alice:2"],
            ],
          );
          const page = yield* store.readDirect("bob", "alice", { anchorSeq: 1n, direction: "forward", limit: 1 });
          assert.deepStrictEqual([seqs(page), page.hasMore], [[2], true]);
          // Concurrent DMs in both directions share the one sequence, gap-free.
          const burst = yield* Effect.forEach(range(40), (i) => (i % 2 === 0 ? dm("Dan", "Eve", `b${i}`) : dm("eve", "dan", `b${i}`)), {
            concurrency: "unbounded",
          });
          assert.deepStrictEqual(
            burst.map((r) => Number(r.message.seq)).sort((x, y) => x - y),
            range(40),
          );
        }),
      ),
    );

    it.live("a room code is unique forever, destroyed rooms included; listing shows live persistent rooms by name", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* store.createRoom(room("FFFFFF"));
          yield* store.destroyRoom("FFFFFF", 7_000);
          yield* store.destroyRoom("FFFFFF", 9_000); // no-op: stays destroyed at its first time
          const again = yield* Effect.flip(store.createRoom(room("FFFFFF", true)));
          assert.strictEqual(again._tag, "RoomCodeTaken");
          const destroyed = yield* store.findRoom("FFFFFF");
          assert.strictEqual(destroyed?.destroyedAtMs, 7_000);
          assert.strictEqual(yield* store.findRoom("ZZZZZZ"), undefined);
          const created = yield* store.createRoom(room("P2P2P2", true, "random"));
          assert.deepStrictEqual(created, {
            code: "P2P2P2",
            name: "random",
            persistent: true,
            createdBy: "alice",
            createdAtMs: 1_000,
            destroyedAtMs: null,
            lastSeq: 0n,
          });
          yield* store.createRoom(room("P3P3P3", true, "general"));
          yield* store.createRoom(room("P5P5P5", true, "Zulu")); // byte order: upper case sorts first
          yield* store.createRoom(room("P4P4P4", true, "zebra"));
          yield* store.destroyRoom("P4P4P4", 8_000);
          const listed = yield* store.listPersistentRooms(10);
          assert.deepStrictEqual(
            listed.map((r) => [r.name, r.code, r.persistent, r.destroyedAtMs]),
            [
              ["Zulu", "P5P5P5", true, null],
              ["general", "P3P3P3", true, null],
              ["random", "P2P2P2", true, null],
            ],
          );
          assert.strictEqual((yield* store.listPersistentRooms(1)).length, 1);
          yield* store.createRoom(room("T2T2T2"));
          assert.deepStrictEqual(
            (yield* store.listTemporaryRooms(10)).map((r) => r.code),
            ["T2T2T2"],
          );
          assert.strictEqual(yield* store.countPersistentRooms("alice"), 3);
          assert.strictEqual(yield* store.countPersistentRooms("nobody"), 0);
        }),
      ),
    );

    it.live("users are unique by key; sessions are found until revoked; expired ones are swept", () =>
      withStore((store) =>
        Effect.gen(function* () {
          const user = yield* store.createUser({ username: "Ann", usernameKey: "ann", passwordHash: "$h", createdAtMs: 1 });
          assert.deepStrictEqual(user, { id: user.id, username: "Ann", usernameKey: "ann", passwordHash: "$h", createdAtMs: 1 });
          const taken = yield* Effect.flip(store.createUser({ username: "ANN", usernameKey: "ann", passwordHash: "$h", createdAtMs: 2 }));
          assert.strictEqual(taken._tag, "UsernameTaken");
          assert.deepStrictEqual(yield* store.findUser("ann"), user);
          assert.strictEqual(yield* store.findUser("nobody"), undefined);
          // A key no account can have (U+0000 is refused at registration) is simply not found, on every store.
          assert.strictEqual(yield* store.findUser("ann\u0000"), undefined);
          assert.strictEqual(yield* store.findSession("ab\u0000"), undefined);
          assert.strictEqual(yield* store.findRoom("AB\u0000CD"), undefined);
          assert.deepStrictEqual(yield* store.readMessages("AB\u0000CD", { anchorSeq: 0n, direction: "backward", limit: 5 }), {
            messages: [],
            hasMore: false,
          });
          assert.deepStrictEqual(yield* store.readDirect("ann", "b\u0000b", { anchorSeq: 0n, direction: "backward", limit: 5 }), {
            messages: [],
            hasMore: false,
          });
          const session = { tokenHash: "ab".repeat(32), userId: user.id, username: "Ann", createdAtMs: 10, expiresAtMs: 20 };
          yield* store.createSession(session);
          yield* store.createSession({ ...session, tokenHash: "cd".repeat(32) });
          assert.deepStrictEqual(yield* store.findSession(session.tokenHash), session);
          yield* store.revokeSession(session.tokenHash);
          assert.strictEqual(yield* store.findSession(session.tokenHash), undefined);
          assert.isDefined(yield* store.findSession("cd".repeat(32)));
          // A new session after the old one expired sweeps it.
          yield* store.createSession({ ...session, tokenHash: "ef".repeat(32), createdAtMs: 25, expiresAtMs: 99 });
          assert.strictEqual(yield* store.findSession("cd".repeat(32)), undefined);
          assert.isDefined(yield* store.findSession("ef".repeat(32)));
        }),
      ),
    );

    it.live("reopening keeps everything; the migrations run once", () =>
      Effect.gen(function* () {
        const h = harness();
        const location = yield* h.location;
        const at = <A, E>(use: (store: Store["Service"]) => Effect.Effect<A, E>) =>
          Effect.scoped(Effect.flatMap(h.open(location), ({ store }) => use(store)));
        yield* at((store) =>
          Effect.gen(function* () {
            const user = yield* store.createUser({ username: "Bo", usernameKey: "bo", passwordHash: "$h", createdAtMs: 1 });
            yield* store.createSession({ tokenHash: "t", userId: user.id, username: "Bo", createdAtMs: 1, expiresAtMs: 2 });
            yield* store.createRoom(room("GGGGGG"));
            yield* store.appendMessage(msg("GGGGGG", "1"));
            yield* store.appendMessage(msg("GGGGGG", "2"));
            yield* store.appendDirect({ sender: "Bo", recipient: "Cy", clientMessageId: "x", text: "hi", sentAtMs: 3 });
          }),
        );
        yield* at((store) =>
          Effect.gen(function* () {
            assert.strictEqual((yield* store.findUser("bo"))?.username, "Bo");
            assert.strictEqual((yield* store.findSession("t"))?.username, "Bo");
            assert.strictEqual((yield* store.findRoom("GGGGGG"))?.lastSeq, 2n);
            const next = yield* store.appendMessage(msg("GGGGGG", "3"));
            assert.strictEqual(next.message.seq, 3n);
            const retry = yield* store.appendMessage(msg("GGGGGG", "1"));
            assert.deepStrictEqual([retry.duplicate, retry.message.seq], [true, 1n]);
            const dms = yield* store.readDirect("cy", "bo", { anchorSeq: 0n, direction: "backward", limit: 5 });
            assert.deepStrictEqual(
              dms.messages.map((m) => m.text),
              ["hi"],
            );
          }),
        );
      }).pipe(Effect.scoped),
    );

    it.live("appends after the store closed fail instead of hanging", () =>
      Effect.gen(function* () {
        const h = harness();
        const location = yield* h.location;
        const scope = yield* Scope.make();
        const { store } = yield* Scope.provide(h.open(location), scope);
        yield* store.createRoom(room("HHHHHH"));
        yield* Scope.close(scope, Exit.void);
        const error = yield* Effect.flip(store.appendMessage(msg("HHHHHH", "late")));
        assert.strictEqual(error._tag, "StoreError");
      }).pipe(Effect.scoped),
    );
  });
