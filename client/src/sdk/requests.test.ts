// The request table without sockets: what survives a lost connection (and in which order), pacing under
// the token bucket, and frame ids.
import { fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ClientFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { added, dispatched, emptyRequests, nextFrameId, pumped, type Requests, socketLost, waiting } from "./requests.ts";

const PACING = { perSec: 10, burst: 3 };
const user = { _tag: "User" } as const;
const list = (req: Requests, idempotent: boolean, purpose: Parameters<typeof added>[1]["purpose"] = user) =>
  added(req, { ticket: 1, kind: { case: "listRooms", value: {} }, expect: "roomList", idempotent, purpose });

describe("socketLost", () => {
  it("keeps what is safe to repeat or never left, in order; drops written non-idempotent and the SDK's own requests", () => {
    let req = emptyRequests(PACING, 0);
    const a = list(req, false);
    const b = list(a.req, true);
    const c = list(b.req, false);
    const d = list(c.req, false, { _tag: "Rejoin", code: "K7QX2M", sub: 1 });
    const e = list(d.req, false); // made while the socket was down: never dispatched
    req = e.req;
    for (const call of [a.call, b.call, c.call, d.call]) req = dispatched(req, call.key);
    req = pumped(req, 0, { perSec: 10, burst: 2 }).req; // a and b written; c and d wait for a token
    const lost = socketLost(req);
    expect(lost.dropped.map((x) => x.key)).toEqual([a.call.key, d.call.key]);
    expect(waiting(lost.req).map((x) => x.key)).toEqual([b.call.key, c.call.key, e.call.key]);
    expect(waiting(lost.req).every((x) => x.id === 0 && !x.sent)).toBe(true);
    expect(lost.req.queue).toEqual([]);
  });
});

describe("pumped", () => {
  it("writes a burst at once, then one frame per 1/perSec, and says when to pump again", () => {
    let req = emptyRequests(PACING, 0);
    for (let i = 0; i < 5; i++) {
      const r = list(req, true);
      req = dispatched(r.req, r.call.key);
    }
    const first = pumped(req, 0, PACING);
    expect(first.writes).toHaveLength(3);
    expect(first.armMs).toBe(100);
    expect(first.req.pumpArmed).toBe(true);
    expect(pumped(first.req, 50, PACING).writes).toHaveLength(0);
    const second = pumped({ ...first.req, pumpArmed: false }, 100, PACING);
    expect(second.writes).toHaveLength(1);
    const ids = [...first.writes, ...second.writes].map((b) => fromBinary(ClientFrameSchema, b).id);
    expect(ids).toEqual([1, 2, 3, 4]);
    expect([...second.req.calls.values()].filter((c) => c.sent)).toHaveLength(4);
  });
});

it("frame ids count up from 1 and wrap before 2^32", () => {
  let req = emptyRequests(PACING, 0);
  expect(nextFrameId(req).id).toBe(1);
  req = { ...req, nextId: 0xffff_fff0 };
  const last = nextFrameId(req);
  expect(last.id).toBe(0xffff_fff0);
  expect(nextFrameId(last.req).id).toBe(1);
});
