// Chat over a Store whose commit outcome can be lost (a networked database: the connection drops while COMMIT
// is on its way): the message is stored but the send fails; its retry must still reach the room's members.
import { create, fromBinary } from "@bufbuild/protobuf";
import { assert, describe, it } from "@effect/vitest";
import { Effect, Layer } from "effect";
import { type ServerFrame, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { SendMessageRequestSchema } from "../../../proto/gen/es/chat/v1/message_pb.js";
import { ServerConfig, testConfig } from "../config.ts";
import { StorageUnavailable } from "../errors.ts";
import { Bus } from "../bus/bus.ts";
import { Hub, type Peer } from "../hub/hub.ts";
import { type Appended, freshState, Store, type StoredMessage } from "../store/store.ts";
import { payloadOf } from "../transport/wire.ts";
import { Files } from "../files/files.ts";
import { Chat } from "./chat.ts";

/** Room appends only; the first append of `lostOnce` is stored but answered with StorageUnavailable. */
const storeLosingOneAck = (lostOnce: string) => {
  const stored = new Map<string, StoredMessage>();
  let seq = 0n;
  let lost = false;
  return Store.of({
    appendMessage: (m) =>
      Effect.suspend((): Effect.Effect<Appended<StoredMessage>, StorageUnavailable> => {
        const found = stored.get(m.clientMessageId);
        if (found) return Effect.succeed({ message: found, duplicate: true });
        const message: StoredMessage = { ...m, ...freshState(m.replyToSeq ?? 0n), seq: ++seq };
        stored.set(m.clientMessageId, message);
        if (m.clientMessageId === lostOnce && !lost) {
          lost = true;
          return Effect.fail(new StorageUnavailable({ operation: "append", cause: "connection lost during COMMIT", retryAfterMs: 10 }));
        }
        return Effect.succeed({ message, duplicate: false });
      }),
  } as Partial<Store["Service"]> as Store["Service"]);
};

describe("Chat", () => {
  it.effect("a send whose commit was stored but not acknowledged reaches the room when its retry finds it", () =>
    Effect.gen(function* () {
      const chat = yield* Chat;
      const hub = yield* Hub;
      const got: ServerFrame[] = [];
      const member: Peer = {
        id: 1,
        username: "bob",
        token: "t1",
        send: (bytes) => got.push(fromBinary(ServerFrameSchema, payloadOf(bytes))),
        terminate: () => {},
      };
      const sender: Peer = { ...member, id: 2, username: "alice", token: "t2", send: () => {} };
      for (const peer of [member, sender]) {
        hub.addPeer(peer);
        hub.join("ROOM01", false, 0n, peer);
      }
      const send = (clientMessageId: string, text: string) =>
        chat.send(
          { peer: sender, rooms: new Set(["ROOM01"]) },
          create(SendMessageRequestSchema, { roomCode: "ROOM01", clientMessageId, text }),
        );

      const first = yield* Effect.flip(send("a", "one"));
      assert.strictEqual(first._tag, "StorageUnavailable");
      const retry = yield* send("a", "one");
      assert.deepStrictEqual([retry.seq, retry.duplicate], [1n, true]);
      const next = yield* send("b", "two");
      assert.deepStrictEqual([next.seq, next.duplicate], [2n, false]);
      // Without the retry handing seq 1 over, the member would get nothing: seq 2 would wait for seq 1 forever.
      const messages = got.flatMap((f) => (f.kind.case === "message" ? [[f.kind.value.seq, f.kind.value.text]] : []));
      assert.deepStrictEqual(messages, [
        [1n, "one"],
        [2n, "two"],
      ]);
      // A later retry of a delivered message is not delivered twice.
      yield* send("a", "one");
      assert.strictEqual(got.filter((f) => f.kind.case === "message").length, 2);
    }).pipe(
      Effect.provide(
        Chat.layer.pipe(
          Layer.provideMerge(Hub.layer),
          Layer.provideMerge(
            Layer.mergeAll(
              Layer.succeed(Store, storeLosingOneAck("a")),
              Bus.layerMemory(),
              Layer.succeed(
                Files,
                Files.of({ attach: () => Effect.succeed([]), release: () => Effect.void, of: () => Effect.succeed(new Map()) }),
              ),
            ),
          ),
          Layer.provideMerge(Layer.succeed(ServerConfig, testConfig())),
        ),
      ),
    ),
  );
});
