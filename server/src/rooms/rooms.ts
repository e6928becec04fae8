// Rooms: create with a minted code, join by code (throttled, NOT_FOUND for missing and destroyed alike),
// leave, list persistent rooms, destroy empty temporary rooms after the grace period, and make sure the
// configured persistent rooms exist at start.
import { Context, Effect, Layer } from "effect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { RoomSchema } from "../../../proto/gen/es/chat/v1/room_pb.js";
import { ServerConfig } from "../config.ts";
import { type InvalidArgument, LimitExceeded, NotFound, NotMember, type RateLimited, RoomCodeTaken, type StorageUnavailable, StoreError } from "../errors.ts";
import { Hub, type Peer } from "../hub/hub.ts";
import { JoinThrottle } from "../auth/join-throttle.ts";
import { Store, type RoomRecord } from "../store/store.ts";
import { roomName } from "../chat/validate.ts";
import { mintCode, normalizeCode } from "./codes.ts";

export interface Joined {
  readonly room: RoomRecord;
  readonly members: ReadonlyArray<string>;
  readonly lastSeq: bigint;
}

/** The connection-side state the room operations read and update. */
export interface Membership {
  readonly peer: Peer;
  readonly ip: string;
  /** Codes of the rooms this connection has joined. */
  readonly rooms: Set<string>;
}

export const roomInit = (r: RoomRecord): MessageInitShape<typeof RoomSchema> => ({
  code: r.code,
  name: r.name,
  persistent: r.persistent,
  createdBy: r.createdBy,
  createdAtMs: BigInt(r.createdAtMs),
});

const MAX_MINT_ATTEMPTS = 8;

export class Rooms extends Context.Service<
  Rooms,
  {
    /**
     * Creates a room and joins the creator. `onJoined` runs synchronously with the join so the reply is queued
     * before any message pushed to the room.
     */
    create(m: Membership, name: string, persistent: boolean, onJoined: (j: Joined) => void): Effect.Effect<void, InvalidArgument | LimitExceeded | StoreError | StorageUnavailable>;
    /** Joins by code; as in `create`, `onJoined` queues the reply before any push. */
    join(m: Membership, code: string, onJoined: (j: Joined) => void): Effect.Effect<void, NotFound | RateLimited | LimitExceeded | StoreError | StorageUnavailable>;
    leave(m: Membership, code: string): Effect.Effect<void, NotMember>;
    list(limit: number): Effect.Effect<ReadonlyArray<{ room: RoomRecord; memberCount: number }>, StoreError | StorageUnavailable>;
  }
>()("protochat/rooms/Rooms") {
  static readonly layer = Layer.effect(
    Rooms,
    Effect.gen(function* () {
      const store = yield* Store;
      const hub = yield* Hub;
      const throttle = yield* JoinThrottle;
      const config = yield* ServerConfig;
      const context = yield* Effect.context<never>();

      hub.onRoomExpired = (code) => {
        // Runs on a timer fiber; a failure is logged and the room simply lives on until the next expiry.
        Effect.runForkWith(context)(
          Effect.gen(function* () {
            if (hub.isLive(code)) return;
            yield* store.destroyRoom(code, Date.now());
            yield* Effect.logInfo("room destroyed", { room: code });
          }).pipe(Effect.catchCause((cause) => Effect.logWarning("room destroy failed", { room: code, cause: String(cause) }))),
        );
      };

      const roomCap = (m: Membership, code: string | undefined) =>
        (code === undefined || !m.rooms.has(code)) && m.rooms.size >= config.maxRoomsPerConnection
          ? Effect.fail(new LimitExceeded({ message: `at most ${config.maxRoomsPerConnection} rooms per connection` }))
          : Effect.void;

      const enter = (m: Membership, room: RoomRecord, onJoined: (j: Joined) => void) =>
        roomCap(m, room.code).pipe(
          Effect.andThen(
            Effect.sync(() => {
              const snapshot = hub.join(room.code, room.persistent, room.lastSeq, m.peer);
              m.rooms.add(room.code);
              onJoined({ room, members: snapshot.members, lastSeq: snapshot.lastSeq });
            }),
          ),
        );

      const create = Effect.fn("Rooms.create")(function* (m: Membership, rawName: string, persistent: boolean, onJoined: (j: Joined) => void) {
        const name = yield* roomName(rawName, persistent);
        // Checked before the room exists: a refused create must not leave a room behind (a persistent one
        // would be listed and count against the creator's cap; a temporary one would never expire).
        yield* roomCap(m, undefined);
        if (persistent && (yield* store.countPersistentRooms(m.peer.username)) >= config.maxPersistentRoomsPerUser) {
          return yield* new LimitExceeded({ message: `at most ${config.maxPersistentRoomsPerUser} persistent rooms per user` });
        }
        for (let attempt = 0; attempt < MAX_MINT_ATTEMPTS; attempt++) {
          const created = yield* store
            .createRoom({ code: mintCode(), name, persistent, createdBy: m.peer.username, createdAtMs: Date.now() })
            .pipe(Effect.catchTag("RoomCodeTaken", () => Effect.succeed(undefined)));
          if (created) {
            yield* Effect.logInfo("room created", { room: created.code, persistent });
            return yield* enter(m, created, onJoined);
          }
        }
        return yield* new StoreError({ operation: "createRoom", cause: new RoomCodeTaken() });
      });

      const join = Effect.fn("Rooms.join")(function* (m: Membership, rawCode: string, onJoined: (j: Joined) => void) {
        const code = normalizeCode(rawCode);
        // A rejoin of a room this connection is in is no guess: it is answered even when the failed-join
        // budget is spent.
        if (code === undefined || !m.rooms.has(code)) yield* throttle.checkJoin(m.peer.username, m.ip);
        const room = code === undefined ? undefined : yield* store.findRoom(code);
        if (!room || room.destroyedAtMs !== null) {
          yield* throttle.recordJoinFailure(m.peer.username, m.ip);
          return yield* new NotFound({ what: "room" });
        }
        // The stored lastSeq is read before the room goes live; a live room's in-memory position wins.
        return yield* enter(m, room, onJoined);
      });

      const leave = (m: Membership, rawCode: string) =>
        Effect.suspend(() => {
          const code = normalizeCode(rawCode) ?? rawCode;
          if (!m.rooms.delete(code)) return Effect.fail(new NotMember({ roomCode: code }));
          hub.leave(code, m.peer);
          return Effect.void;
        });

      const list = Effect.fn("Rooms.list")(function* (limit: number) {
        const rooms = yield* store.listPersistentRooms(limit);
        return rooms.map((room) => ({ room, memberCount: hub.memberCount(room.code) }));
      });

      // The configured persistent rooms exist from the first start on.
      const existing = new Set((yield* store.listPersistentRooms(10_000).pipe(Effect.orDie)).map((r) => r.name));
      for (const name of config.rooms) {
        if (existing.has(name)) continue;
        let made = false;
        for (let attempt = 0; attempt < MAX_MINT_ATTEMPTS && !made; attempt++) {
          const created = yield* store
            .createRoom({ code: mintCode(), name, persistent: true, createdBy: "", createdAtMs: Date.now() })
            .pipe(Effect.catchTag("RoomCodeTaken", () => Effect.succeed(undefined)), Effect.orDie);
          made = created !== undefined;
        }
      }

      // Temporary rooms that were live when the server stopped get the grace period reconnecting members need.
      for (const room of yield* store.listTemporaryRooms(100_000).pipe(Effect.orDie)) hub.scheduleExpiry(room.code);

      return Rooms.of({ create, join, leave, list });
    }),
  );
}

