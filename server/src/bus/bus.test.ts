// The bus without Redis: the event codec round-trips every event, and the in-memory network delivers to
// every other node, in publish order, never to the publisher, and to nobody once a subscription's scope closed.
import { Effect, Exit, Scope } from "effect";
import { describe, expect, it } from "vitest";
import { type BusEvent, decodeEvent, encodeEvent, MemoryNetwork } from "./bus.ts";

const payload = Uint8Array.of(8, 0, 18, 3, 97, 98, 99);
const events: BusEvent[] = [
  { _tag: "RoomMessage", room: "ABC234", seq: 2n ** 40n + 7n, payload },
  { _tag: "RoomPush", room: "ABC234", exceptUser: "Zoë", droppable: true, payload },
  { _tag: "RoomPush", room: "ABC234", exceptUser: "", droppable: false, payload },
  { _tag: "UserPush", usernames: ["ann", "bob"], payload },
  { _tag: "OnlinePush", payload },
  { _tag: "SessionRevoked", username: "ann", tokenHash: "ab".repeat(32) },
  { _tag: "RoomDestroyed", room: "XYZ789" },
];

describe("event codec", () => {
  it("round-trips every event with its origin node", () => {
    for (const e of events) {
      const { origin, event } = decodeEvent(encodeEvent("node-1", e));
      expect(origin).toBe("node-1");
      expect({ ...event, ...("payload" in event ? { payload: [...event.payload] } : {}) }).toEqual({
        ...e,
        ...("payload" in e ? { payload: [...e.payload] } : {}),
      });
    }
  });

  it("rejects a truncated or unknown event instead of misreading it", () => {
    const bytes = encodeEvent("n", events[5]!);
    expect(() => decodeEvent(bytes.subarray(0, bytes.length - 3))).toThrow(RangeError);
    expect(() => decodeEvent(Buffer.from([99, 0, 1, 110]))).toThrow(RangeError);
  });
});

describe("in-memory network", () => {
  it("delivers to the other nodes in publish order, not to the publisher; a closed scope unsubscribes", async () => {
    const net = new MemoryNetwork();
    const a = net.node("a", false);
    const b = net.node("b", false);
    const gotA: BusEvent[] = [];
    const gotB: BusEvent[] = [];
    const scopeA = await Effect.runPromise(Scope.make());
    const scopeB = await Effect.runPromise(Scope.make());
    await Effect.runPromise(a.subscribe({ event: (e) => gotA.push(e), reconnected() {} }).pipe(Scope.provide(scopeA)));
    await Effect.runPromise(b.subscribe({ event: (e) => gotB.push(e), reconnected() {} }).pipe(Scope.provide(scopeB)));
    for (const e of events) a.publish(e);
    await Promise.resolve();
    expect(gotB).toEqual(events);
    expect(gotA).toEqual([]);
    await Effect.runPromise(Scope.close(scopeB, Exit.void));
    a.publish(events[0]!);
    await Promise.resolve();
    expect(gotB).toHaveLength(events.length);
    await Effect.runPromise(Scope.close(scopeA, Exit.void));
  });
});
