// Joins this node's Hub to the Bus and Presence: local changes other nodes must hear go out (typing, logout,
// online/offline), the other nodes' events come in and are fanned out here, a room whose delivery waits
// behind a missing seq for longer than --gap-fill-ms is filled from the store, every local room catches up
// from the store after the bus reconnects, and the presence of nodes that died is reaped. In embedded mode
// (a standalone bus) only online/offline is done here, in process (with the presence grace's timers).
import { Effect, FiberMap, FiberSet, Layer, Option, Schedule } from "effect";
import { hashToken } from "../auth/tokens.ts";
import { encodeMessage } from "../chat/chat.ts";
import { ServerConfig } from "../config.ts";
import { Files, messageKeyString } from "../files/files.ts";
import { encodePush, Hub } from "../hub/hub.ts";
import { Presence, type Reaped } from "../presence/presence.ts";
import { Rooms } from "../rooms/rooms.ts";
import { Store, usernameKey } from "../store/store.ts";
import { frameBinary, payloadOf } from "../transport/wire.ts";
import { Bus, type BusEvent } from "./bus.ts";

/** Messages read per store page while filling a gap or catching up. */
const FILL_PAGE = 200;
/** How often the presence of dead nodes is looked for (the LEFT bound is --node-ttl-ms plus this). */
export const REAP_INTERVAL_MS = 2000;

export const layer = Layer.effectDiscard(
  Effect.gen(function* () {
    const hub = yield* Hub;
    const bus = yield* Bus;
    const presence = yield* Presence;
    const store = yield* Store;
    const rooms = yield* Rooms;
    const config = yield* ServerConfig;
    const files = yield* Files;
    const run = yield* FiberSet.makeRuntime<never>();
    const fills = yield* FiberMap.make<string>();
    const runFill = yield* FiberMap.runtime(fills)<never>();

    /** Pushes an online/offline change here and to the other nodes. */
    const announceOnline = (username: string, online: boolean) => {
      const bytes = encodePush({ case: "userPresence", value: { username, online } });
      hub.pushOnline(bytes);
      if (!bus.standalone) bus.publish({ _tag: "OnlinePush", payload: payloadOf(bytes) });
    };

    const announceReaped = (r: Reaped) =>
      Effect.gen(function* () {
        yield* rooms.departed(r.left);
        for (const username of r.offline) announceOnline(username, false);
        if (r.left.length + r.offline.length > 0)
          yield* Effect.logInfo("presence reaped", { left: r.left.length, offline: r.offline.length });
      });

    // Delivers the stored messages after the room's position here, page by page, until the store has no
    // more. While a later seq still waits for one the store does not have yet (its commit is in flight on
    // another node), or the store cannot be read, it looks again every --gap-fill-ms (at least every second
    // after a failure) for as long as the room is live here: a waiting room is never left without a filler.
    const fill = (code: string) =>
      Effect.gen(function* () {
        for (;;) {
          const at = hub.position(code);
          if (!at) return;
          // A filled message carries its attachments as the original push did.
          const read = store.readMessages(code, { anchorSeq: at.nextSeq - 1n, direction: "forward", limit: FILL_PAGE }).pipe(
            Effect.flatMap((page) =>
              files
                .of(
                  { _tag: "room", code },
                  page.messages.filter((m) => m.action === undefined && !m.deleted),
                )
                .pipe(Effect.map((attached) => ({ page, attached }))),
            ),
          );
          const filled = yield* read.pipe(
            Effect.catchCause((cause) =>
              Effect.logWarning("gap fill failed, retrying", { room: code, cause: String(cause) }).pipe(Effect.as(undefined)),
            ),
          );
          const page = filled?.page;
          if (filled && page) {
            for (const m of page.messages) {
              hub.deliver(
                code,
                m.seq,
                encodeMessage(
                  m,
                  filled.attached.get(messageKeyString({ ownerKey: usernameKey(m.sender), clientMessageId: m.clientMessageId })),
                ),
              );
            }
            if (page.hasMore) continue;
            if (!hub.position(code)?.waiting) return;
          }
          yield* Effect.sleep(page ? config.gapFillMs : Math.max(config.gapFillMs, 1000));
        }
      });

    /** Fills after `delayMs`; an already scheduled fill is kept unless `replace` (a reconnect must re-read). */
    const scheduleFill = (code: string, delayMs: number, replace: boolean) =>
      runFill(code, Effect.sleep(delayMs).pipe(Effect.andThen(fill(code))), { onlyIfMissing: !replace });

    // The state is read when the update is issued, so updates for one user land in Presence in order.
    const settleOnline = (username: string) =>
      run(
        Effect.gen(function* () {
          const here = hub.peersOf(username).size > 0;
          if (yield* presence.setOnline(username, here)) announceOnline(username, here);
        }),
      );
    // The presence grace for online state: a user whose last connection here closed without logging out stays
    // online in Presence for --presence-grace-ms, so a reload or a reconnect through any node is not pushed as
    // offline-then-online. A logout settles at once.
    const offlineLingers = yield* FiberMap.make<string>();
    const runOfflineLinger = yield* FiberMap.runtime(offlineLingers)<never>();
    /** username -> the session whose connection left the grace (a logout of it ends the grace). */
    const lingeringSession = new Map<string, string>();
    const settleOnlineNow = (username: string) => {
      lingeringSession.delete(username);
      const timer = FiberMap.getUnsafe(offlineLingers, username);
      if (Option.isSome(timer)) timer.value.interruptUnsafe();
      settleOnline(username);
    };

    const unlisten = hub.listen({
      userOnline(username, online, linger, tokenHash) {
        if (!online && linger && config.presenceGraceMs > 0) {
          lingeringSession.set(username, tokenHash);
          runOfflineLinger(
            username,
            Effect.sleep(config.presenceGraceMs).pipe(
              Effect.andThen(
                Effect.sync(() => {
                  lingeringSession.delete(username);
                  settleOnline(username);
                }),
              ),
            ),
          );
          return;
        }
        settleOnlineNow(username);
      },
      sessionEnded(username, tokenHash) {
        if (lingeringSession.get(username) === tokenHash) settleOnlineNow(username);
      },
      typingChanged(code, username, bytes) {
        if (!bus.standalone)
          bus.publish({ _tag: "RoomPush", room: code, exceptUser: username, droppable: true, payload: payloadOf(bytes) });
      },
      sessionRevoked(username, token) {
        if (!bus.standalone) bus.publish({ _tag: "SessionRevoked", username, tokenHash: hashToken(token) });
      },
      gap(code) {
        if (!bus.standalone) scheduleFill(code, config.gapFillMs, false);
      },
      roomLive(code) {
        // The stored lastSeq the room went live at was read before the join: a message published in between
        // was not delivered here. Look once after the gap bound.
        if (!bus.standalone) scheduleFill(code, config.gapFillMs, false);
      },
    });
    yield* Effect.addFinalizer(() => Effect.sync(unlisten));

    const apply = (e: BusEvent) => {
      switch (e._tag) {
        case "RoomMessage":
          if (hub.isLive(e.room)) hub.deliver(e.room, e.seq, frameBinary(e.payload));
          return;
        case "RoomPush":
          if (hub.isLive(e.room)) hub.pushRoom(e.room, frameBinary(e.payload), e.exceptUser === "" ? undefined : e.exceptUser, e.droppable);
          return;
        case "UserPush": {
          let bytes;
          for (const username of e.usernames) {
            if (hub.peersOf(username).size === 0) continue;
            hub.sendToUser(username, (bytes ??= frameBinary(e.payload)));
          }
          return;
        }
        case "OnlinePush":
          hub.pushOnline(frameBinary(e.payload));
          return;
        case "SessionRevoked":
          hub.revokeSessionHash(e.username, e.tokenHash);
          return;
        case "RoomDestroyed":
          rooms.destroyedElsewhere(e.room);
          return;
      }
    };

    yield* bus.subscribe({
      event: apply,
      reconnected() {
        // Whatever was published while the bus was away is in the store. The resubscription may still be
        // settling: read after the gap bound, and the usual gap filling covers the rest.
        for (const code of hub.liveRooms()) scheduleFill(code, config.gapFillMs, true);
      },
    });

    if (!bus.standalone) {
      yield* presence.reapDead().pipe(Effect.flatMap(announceReaped), Effect.repeat(Schedule.spaced(REAP_INTERVAL_MS)), Effect.forkScoped);
      // A node that stops cleanly leaves everyone's presence at the end of the presence grace (its clients,
      // told 1001, reconnect through another node meanwhile and are not announced as gone), or at once
      // without a grace, instead of after its liveness lapses.
      yield* Effect.addFinalizer(() =>
        config.presenceGraceMs > 0
          ? presence.release(config.presenceGraceMs)
          : presence.leaveAll().pipe(Effect.flatMap(announceReaped), Effect.ignore),
      );
    }
  }),
);
