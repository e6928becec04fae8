// The behaviour every Presence layer must show, as a test suite run against each (presence.test.ts for the
// in-memory layer, redis.test.ts against a real Redis): users counted once across devices and nodes,
// first/last-anywhere answers, and a dead node's entries reaped.
import { Effect } from "effect";
import { describe, expect, it } from "vitest";
import type { PresenceShape } from "./presence.ts";

export interface Nodes {
  /** Two nodes' views of one cluster. */
  readonly a: PresenceShape;
  readonly b: PresenceShape;
  /** Makes node `b` look dead to the others (its liveness lapses). */
  killB(): Promise<void>;
  close(): Promise<void>;
}

const run = <A>(e: Effect.Effect<A>) => Effect.runPromise(e);

export const presenceContract = (name: string, make: () => Promise<Nodes>, timeoutMs = 10_000) =>
  describe(name, () => {
    it("a user on two nodes is one member: JOINED once, LEFT only when the last node lets go", { timeout: timeoutMs }, async () => {
      const n = await make();
      try {
        expect(await run(n.a.join("R1", "ann"))).toEqual({ changed: true, members: ["ann"] });
        expect(await run(n.b.join("R1", "bob"))).toEqual({ changed: true, members: ["ann", "bob"] });
        expect(await run(n.b.join("R1", "ann"))).toEqual({ changed: false, members: ["ann", "bob"] });
        // Joining again on the same node is idempotent.
        expect(await run(n.a.join("R1", "ann"))).toEqual({ changed: false, members: ["ann", "bob"] });
        expect(await run(n.a.counts(["R1", "NONE"]))).toEqual([2, 0]);
        expect(await run(n.a.leave("R1", "ann"))).toEqual({ changed: false, count: 2 });
        expect(await run(n.b.leave("R1", "ann"))).toEqual({ changed: true, count: 1 });
        expect(await run(n.b.leave("R1", "ann"))).toEqual({ changed: false, count: 1 });
        expect(await run(n.b.leave("R1", "bob"))).toEqual({ changed: true, count: 0 });
        expect(await run(n.a.counts(["R1"]))).toEqual([0]);
      } finally {
        await n.close();
      }
    });

    it(
      "isMember: a user held in a room by any node is a member (who may read its files), until the last node lets go",
      { timeout: timeoutMs },
      async () => {
        const n = await make();
        try {
          expect(await run(n.a.isMember("R9", "ann"))).toBe(false);
          await run(n.b.join("R9", "ann"));
          expect(await run(n.a.isMember("R9", "ann"))).toBe(true);
          expect(await run(n.a.isMember("R9", "bob"))).toBe(false);
          expect(await run(n.a.isMember("OTHER", "ann"))).toBe(false);
          await run(n.b.leave("R9", "ann"));
          expect(await run(n.a.isMember("R9", "ann"))).toBe(false);
        } finally {
          await n.close();
        }
      },
    );

    it(
      "online: first device anywhere and last device anywhere change the state; the list names users once",
      { timeout: timeoutMs },
      async () => {
        const n = await make();
        try {
          expect(await run(n.a.setOnline("ann", true))).toBe(true);
          expect(await run(n.b.setOnline("ann", true))).toBe(false);
          expect(await run(n.b.setOnline("bob", true))).toBe(true);
          expect(await run(n.a.online(10))).toEqual({ usernames: ["ann", "bob"], truncated: false });
          expect(await run(n.a.online(1))).toEqual({ usernames: ["ann"], truncated: true });
          expect(await run(n.a.setOnline("ann", false))).toBe(false);
          expect(await run(n.b.setOnline("ann", false))).toBe(true);
          expect(await run(n.a.online(10))).toEqual({ usernames: ["bob"], truncated: false });
        } finally {
          await n.close();
        }
      },
    );

    it(
      "a dead node's members leave every room and go offline once it is reaped; what others hold stays",
      { timeout: timeoutMs },
      async () => {
        const n = await make();
        try {
          await run(n.a.join("R2", "ann"));
          await run(n.b.join("R2", "bob"));
          await run(n.b.join("R2", "ann"));
          await run(n.b.join("R3", "bob"));
          await run(n.a.setOnline("ann", true));
          await run(n.b.setOnline("ann", true));
          await run(n.b.setOnline("bob", true));
          expect(await run(n.a.reapDead())).toEqual({ left: [], offline: [] });
          await n.killB();
          const reaped = await run(n.a.reapDead());
          expect([...reaped.left].sort((x, y) => x.code.localeCompare(y.code))).toEqual([
            { code: "R2", username: "bob", count: 1 },
            { code: "R3", username: "bob", count: 0 },
          ]);
          expect(reaped.offline).toEqual(["bob"]);
          expect(await run(n.a.counts(["R2", "R3"]))).toEqual([1, 0]);
          expect(await run(n.a.online(10))).toEqual({ usernames: ["ann"], truncated: false });
          // Reaped once: a second pass finds nothing.
          expect(await run(n.a.reapDead())).toEqual({ left: [], offline: [] });
        } finally {
          await n.close();
        }
      },
    );

    it(
      "a node released with a grace keeps its members for the grace, then is reaped; who joined elsewhere meanwhile stays without LEFT",
      { timeout: timeoutMs },
      async () => {
        const n = await make();
        try {
          await run(n.a.join("R5", "ann"));
          await run(n.b.join("R5", "bob"));
          await run(n.b.join("R5", "cat"));
          await run(n.b.setOnline("bob", true));
          await run(n.b.setOnline("cat", true));
          await run(n.b.release(300));
          // Within the grace: nothing is reaped, and bob comes back through node a.
          expect(await run(n.a.reapDead())).toEqual({ left: [], offline: [] });
          expect(await run(n.a.join("R5", "bob"))).toEqual({ changed: false, members: ["ann", "bob", "cat"] });
          expect(await run(n.a.setOnline("bob", true))).toBe(false);
          await new Promise((r) => setTimeout(r, 500));
          expect(await run(n.a.reapDead())).toEqual({ left: [{ code: "R5", username: "cat", count: 2 }], offline: ["cat"] });
          expect(await run(n.a.counts(["R5"]))).toEqual([2]);
        } finally {
          await n.close();
        }
      },
    );

    it("a node that stops cleanly leaves at once", { timeout: timeoutMs }, async () => {
      const n = await make();
      try {
        await run(n.a.join("R4", "ann"));
        await run(n.b.join("R4", "bob"));
        await run(n.b.setOnline("bob", true));
        expect(await run(n.b.leaveAll())).toEqual({ left: [{ code: "R4", username: "bob", count: 1 }], offline: ["bob"] });
        expect(await run(n.a.counts(["R4"]))).toEqual([1]);
      } finally {
        await n.close();
      }
    });
  });
