// Rooms: create with a minted code, join by code (throttled, NOT_FOUND for missing and destroyed alike),
// leave, list persistent rooms, announce JOINED/LEFT cluster-wide (a closed connection's user only after the
// presence grace), destroy a temporary room once it has been empty on every node for the room grace period,
// and make sure the configured persistent rooms exist at start.
import { Context, Effect, FiberMap, FiberSet, Layer, Option } from "effect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { RoomSchema } from "../../../proto/gen/es/chat/v1/room_pb.js";
import { PresenceChange } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import { Bus } from "../bus/bus.ts";
import { ServerConfig } from "../config.ts";
import {
  type InvalidArgument,
  LimitExceeded,
  NotFound,
  NotMember,
  type RateLimited,
  RoomCodeTaken,
  type StorageUnavailable,
  StoreError,
} from "../errors.ts";
import { encodePush, Hub, type Peer } from "../hub/hub.ts";
import { JoinThrottle } from "../auth/join-throttle.ts";
import { type Departed, Presence } from "../presence/presence.ts";
import { Store, type RoomRecord } from "../store/store.ts";
import { roomName } from "../chat/validate.ts";
import { payloadOf } from "../transport/wire.ts";
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
    create(
      m: Membership,
      name: string,
      persistent: boolean,
      onJoined: (j: Joined) => void,
    ): Effect.Effect<void, InvalidArgument | LimitExceeded | StoreError | StorageUnavailable>;
    /** Joins by code; as in `create`, `onJoined` queues the reply before any push. */
    join(
      m: Membership,
      code: string,
      onJoined: (j: Joined) => void,
    ): Effect.Effect<void, NotFound | RateLimited | LimitExceeded | StoreError | StorageUnavailable>;
    leave(m: Membership, code: string): Effect.Effect<void, NotMember>;
    list(limit: number): Effect.Effect<ReadonlyArray<{ room: RoomRecord; memberCount: number }>, StoreError | StorageUnavailable>;
    /** Members of a dead node left these rooms everywhere: push LEFT here and to the other nodes, start graces. */
    departed(left: ReadonlyArray<Departed>): Effect.Effect<void>;
    /** Another node destroyed the room: this node's expiry timer for it has nothing left to do. */
    destroyedElsewhere(code: string): void;
  }
>()("protochat/rooms/Rooms") {
  static readonly layer = Layer.effect(
    Rooms,
    Effect.gen(function* () {
      const store = yield* Store;
      const hub = yield* Hub;
      const bus = yield* Bus;
      const presence = yield* Presence;
      const throttle = yield* JoinThrottle;
      const config = yield* ServerConfig;
      // Timers and presence updates are fibers of this layer's scope: interrupted when the server stops.
      const graces = yield* FiberMap.make<string>();
      const runGrace = yield* FiberMap.runtime(graces)<never>();
      const run = yield* FiberSet.makeRuntime<never>();
      /** Joins waiting for Presence, by room and user: a leave in between must not clear what the join records. */
      const joining = new Map<string, number>();
      const key = (code: string, username: string) => `${code}\u0000${username}`;

      /** Pushes a presence change to the room's members here and on the other nodes. */
      const announce = (code: string, username: string, change: PresenceChange, count: number) => {
        const bytes = encodePush({ case: "presence", value: { roomCode: code, username, change, memberCount: count } });
        hub.pushRoom(code, bytes, username);
        if (!bus.standalone)
          bus.publish({ _tag: "RoomPush", room: code, exceptUser: username, droppable: false, payload: payloadOf(bytes) });
      };

      // Destroys the room if, after the grace, nobody is in it on any node. A failure is logged and the room
      // simply lives on until its next expiry (or the next start).
      const expire = (code: string) =>
        Effect.gen(function* () {
          if (hub.isLive(code)) return;
          const [count] = yield* presence.counts([code]);
          if ((count ?? 0) > 0) return;
          const room = yield* store.findRoom(code);
          if (!room || room.persistent || room.destroyedAtMs !== null) return;
          yield* store.destroyRoom(code, Date.now());
          if (!bus.standalone) bus.publish({ _tag: "RoomDestroyed", room: code });
          yield* Effect.logInfo("room destroyed", { room: code });
        }).pipe(Effect.catchCause((cause) => Effect.logWarning("room destroy failed", { room: code, cause: String(cause) })));

      const scheduleExpiry = (code: string) => {
        runGrace(code, Effect.sleep(config.roomGraceMs).pipe(Effect.andThen(expire(code))));
      };
      const cancelExpiry = (code: string) => {
        const timer = FiberMap.getUnsafe(graces, code);
        if (Option.isSome(timer)) timer.value.interruptUnsafe();
      };

      const departed = (left: ReadonlyArray<Departed>) =>
        Effect.sync(() => {
          for (const d of left) {
            if (d.count > 0) announce(d.code, d.username, PresenceChange.LEFT, d.count);
            else scheduleExpiry(d.code);
          }
        });

      // The user has no connection in the room here any more (left, disconnected, or a join that did not
      // finish): record it in Presence unless a join is on its way, then push LEFT if that was the user's last
      // presence anywhere, and start the room's expiry if it is empty everywhere. Issued at once (a fork runs
      // until its first wait), so a leave and a later join of the same user reach Presence in order.
      const settleNow = (code: string, username: string, persistent: boolean) => {
        run(
          Effect.gen(function* () {
            if (hub.hasMember(code, username) || joining.has(key(code, username))) return;
            const { changed, count } = yield* presence.leave(code, username);
            if (changed && count > 0) announce(code, username, PresenceChange.LEFT, count);
            if (count === 0 && !persistent) scheduleExpiry(code);
          }),
        );
      };

      // The presence grace: a connection that closed without the user asking (reload, network, heartbeat
      // timeout) keeps this node's entry for the user in Presence for --presence-grace-ms. A join within it,
      // here or on any node, finds the user still a member (no JOINED, the member list and counts unchanged);
      // only a user still gone when it ends is settled (LEFT, and the room's own expiry starts from then).
      // A dead node's lingering users leave with the rest of its entries when it is reaped.
      // A logout of the session that left a grace ends it at once (`sessionEnded`, from any node).
      const lingers = yield* FiberMap.make<string>();
      const runLinger = yield* FiberMap.runtime(lingers)<never>();
      /** username -> room -> the session whose connection left the grace, with the room's persistence. */
      const lingering = new Map<string, Map<string, { tokenHash: string; persistent: boolean }>>();
      const forget = (code: string, username: string) => {
        const rooms = lingering.get(username);
        rooms?.delete(code);
        if (rooms?.size === 0) lingering.delete(username);
      };
      const cancelLinger = (code: string, username: string) => {
        forget(code, username);
        const timer = FiberMap.getUnsafe(lingers, key(code, username));
        if (Option.isSome(timer)) timer.value.interruptUnsafe();
      };
      /** Settles at once, ending a grace the user was in (an explicit leave on another connection, logout). */
      const settle = (code: string, username: string, persistent: boolean) => {
        cancelLinger(code, username);
        settleNow(code, username, persistent);
      };
      const memberLeft = (code: string, username: string, persistent: boolean, linger: boolean, tokenHash: string) => {
        if (!linger || config.presenceGraceMs === 0) return settle(code, username, persistent);
        let rooms = lingering.get(username);
        if (!rooms) lingering.set(username, (rooms = new Map()));
        rooms.set(code, { tokenHash, persistent });
        runLinger(
          key(code, username),
          Effect.sleep(config.presenceGraceMs).pipe(
            Effect.andThen(
              Effect.sync(() => {
                forget(code, username);
                settleNow(code, username, persistent);
              }),
            ),
          ),
        );
      };
      const sessionEnded = (username: string, tokenHash: string) => {
        for (const [code, l] of [...(lingering.get(username) ?? [])]) if (l.tokenHash === tokenHash) settle(code, username, l.persistent);
      };
      const unlisten = hub.listen({ memberLeft, sessionEnded });
      yield* Effect.addFinalizer(() => Effect.sync(unlisten));

      const roomCap = (m: Membership, code: string | undefined) =>
        (code === undefined || !m.rooms.has(code)) && m.rooms.size >= config.maxRoomsPerConnection
          ? Effect.fail(new LimitExceeded({ message: `at most ${config.maxRoomsPerConnection} rooms per connection` }))
          : Effect.void;

      const enter = (m: Membership, room: RoomRecord, onJoined: (j: Joined) => void) =>
        Effect.gen(function* () {
          yield* roomCap(m, room.code);
          const username = m.peer.username;
          const k = key(room.code, username);
          joining.set(k, (joining.get(k) ?? 0) + 1);
          const recorded = yield* presence.join(room.code, username).pipe(
            Effect.onExit((exit) =>
              Effect.sync(() => {
                const n = joining.get(k)! - 1;
                if (n === 0) joining.delete(k);
                else joining.set(k, n);
                // Interrupted (the connection closed) after Presence may have recorded the join: undo it.
                if (exit._tag === "Failure") settle(room.code, username, room.persistent);
              }),
            ),
          );
          cancelExpiry(room.code);
          cancelLinger(room.code, username);
          // Synchronous from here: the reply is queued before the first message pushed to this connection.
          const snapshot = hub.join(room.code, room.persistent, room.lastSeq, m.peer);
          m.rooms.add(room.code);
          onJoined({ room, members: recorded.members, lastSeq: snapshot.lastSeq });
          if (recorded.changed) announce(room.code, username, PresenceChange.JOINED, recorded.members.length);
        });

      const create = Effect.fn("Rooms.create")(function* (
        m: Membership,
        rawName: string,
        persistent: boolean,
        onJoined: (j: Joined) => void,
      ) {
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
        const counts = yield* presence.counts(rooms.map((r) => r.code));
        return rooms.map((room, i) => ({ room, memberCount: counts[i] ?? 0 }));
      });

      // The configured persistent rooms exist from the first start on.
      const existing = new Set((yield* store.listPersistentRooms(10_000).pipe(Effect.orDie)).map((r) => r.name));
      for (const name of config.rooms) {
        if (existing.has(name)) continue;
        let made = false;
        for (let attempt = 0; attempt < MAX_MINT_ATTEMPTS && !made; attempt++) {
          const created = yield* store
            .createRoom({ code: mintCode(), name, persistent: true, createdBy: "", createdAtMs: Date.now() })
            .pipe(
              Effect.catchTag("RoomCodeTaken", () => Effect.succeed(undefined)),
              Effect.orDie,
            );
          made = created !== undefined;
        }
      }

      // Temporary rooms not yet destroyed get the grace period reconnecting members need (at expiry, a room
      // with members on any node lives on).
      for (const room of yield* store.listTemporaryRooms(100_000).pipe(Effect.orDie)) scheduleExpiry(room.code);

      return Rooms.of({ create, join, leave, list, departed, destroyedElsewhere: cancelExpiry });
    }),
  );
}
