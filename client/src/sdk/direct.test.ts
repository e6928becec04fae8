// Sends and online users without sockets: local text limits, which failures retry (and after how long), and
// the presence events synthesised from the online list after a reconnect.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { UserPresenceEventSchema } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import { MAX_TEXT_BYTES, noOnline, onlineResynced, type Send, sendFailed, requestError, userPresenceApplied } from "./direct.ts";
import { ChatError } from "./errors.ts";

const BACKOFF = { initialMs: 100, maxMs: 1000 };
const send: Send = {
  ticket: 7,
  kind: { case: "sendMessage", value: { roomCode: "K7QX2M", clientMessageId: "x", text: "hi" } },
  expect: "sendAck",
  failures: 0,
  call: 3,
};

it("requests are checked against the contract's limits: text up to 4096 bytes of UTF-8, counted in bytes, not empty without attachments", () => {
  const text = (t: string) => requestError({ case: "sendMessage", value: { roomCode: "K7QX2M", clientMessageId: "m1", text: t } });
  expect(MAX_TEXT_BYTES).toBe(4096);
  expect(text("hi")).toBeUndefined();
  expect(text("")?.code).toBe(ErrorCode.INVALID_ARGUMENT);
  expect(
    requestError({ case: "sendMessage", value: { roomCode: "K7QX2M", clientMessageId: "m1", text: "", attachmentIds: ["f1"] } }),
  ).toBeUndefined();
  const many = Array.from({ length: 11 }, (_, i) => `f${i}`);
  expect(
    requestError({ case: "sendMessage", value: { roomCode: "K7QX2M", clientMessageId: "m1", text: "", attachmentIds: many } })?.message,
  ).toBe("attachment_ids: must contain no more than 10 item(s)");
  expect(text("x".repeat(MAX_TEXT_BYTES))).toBeUndefined();
  expect(text("é".repeat(2049))?.message).toBe("text: must be at most 4096 bytes");
  expect(requestError({ case: "register", value: { username: "bob", password: "short" } })?.message).toBe(
    "password: must be at least 8 bytes",
  );
  expect(requestError({ case: "history", value: { roomCode: "K7QX2M", limit: 500 } })?.message).toBe(
    "limit: must be less than or equal to 200",
  );
  expect(requestError({ case: "ping", value: {} })).toBeUndefined();
});

describe("sendFailed", () => {
  it("retries a transient failure after the server's retry_after_ms, else after a growing backoff", () => {
    const limited = sendFailed(send, new ChatError("x", { code: ErrorCode.RATE_LIMITED, retryAfterMs: 750 }), true, BACKOFF, 0.5);
    expect(limited).toEqual({ send: { ...send, failures: 1, call: undefined }, retryInMs: 750 });
    const later = sendFailed({ ...send, failures: 3 }, new ChatError("x", { code: ErrorCode.UNAVAILABLE }), true, BACKOFF, 1);
    expect(later).toMatchObject({ retryInMs: 800 });
  });

  it("fails for good on what retrying cannot fix, and once the client has stopped", () => {
    expect(sendFailed(send, new ChatError("x", { code: ErrorCode.NOT_MEMBER }), true, BACKOFF, 0)).toMatchObject({
      reject: { code: ErrorCode.NOT_MEMBER },
    });
    expect(sendFailed(send, new ChatError("x", { code: ErrorCode.INTERNAL }), false, BACKOFF, 0)).toHaveProperty("reject");
  });
});

it("online users: presence pushes update the set; a resync reports who came and went meanwhile", () => {
  let online = { ...noOnline, subscribed: true };
  online = userPresenceApplied(online, create(UserPresenceEventSchema, { username: "ada", online: true }));
  online = userPresenceApplied(online, create(UserPresenceEventSchema, { username: "bob", online: true }));
  online = userPresenceApplied(online, create(UserPresenceEventSchema, { username: "bob", online: false }));
  expect([...online.users]).toEqual(["ada"]);
  const r = onlineResynced(online, ["cy"]);
  expect(r.events.map((e) => [e.username, e.online])).toEqual([
    ["ada", false],
    ["cy", true],
  ]);
  expect([...r.online.users]).toEqual(["cy"]);
});
