// <chat-app>'s public events in real Chromium: typed details, bubbling and composed, in the order the changes
// happen (sign-in, connection, send, sign-out); the inner elements' own events stay inside its shadow root.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../server/src/testing.ts";
import { connected, openUser, signIn, startChatServer, uniqueName, type User } from "./harness.ts";

interface Seen {
  readonly type: string;
  readonly detail: unknown;
  readonly bubbles: boolean;
  readonly composed: boolean;
  /** The pending message was in the timeline's model when chat-message-send fired (dispatched after the send). */
  readonly pendingShown?: boolean;
}

describe("<chat-app> public events", () => {
  let server: TestServer;
  let u: User;
  const name = uniqueName("eve");

  beforeAll(async () => {
    server = await startChatServer();
    u = await openUser(server);
  });

  afterAll(async () => {
    await u?.close();
    await server?.close();
  });

  const seen = (): Promise<Seen[]> => u.page.evaluate(() => (window as unknown as { __seen: Seen[] }).__seen);

  it("fires chat-login, chat-connection-change, chat-message-send and chat-logout with their details", async () => {
    await u.app.getByRole("heading", { name: "Welcome back" }).waitFor();
    await u.page.evaluate(() => {
      const log: Seen[] = [];
      (window as unknown as { __seen: Seen[] }).__seen = log;
      const app = document.querySelector("chat-app")!;
      const record = (e: Event, extra: Partial<Seen> = {}) =>
        log.push({ type: e.type, detail: (e as CustomEvent).detail, bubbles: e.bubbles, composed: e.composed, ...extra });
      // On the document: the public events reach it; the inner elements' requests must not.
      for (const type of [
        "chat-login",
        "chat-logout",
        "chat-connection-change",
        "chat-navigate",
        "chat-composer-submit",
        "chat-login-submit",
        "chat-room-create-request",
      ])
        document.addEventListener(type, (e) => record(e));
      // Typed through HTMLElementEventMap: e.detail is ChatMessageSendDetail.
      app.addEventListener("chat-message-send", (e) => {
        const id = e.detail.clientMessageId;
        const shown =
          app.chat.activeRoom?.timeline.entries.some((x) => x.kind === "message" && x.clientMessageId === id && x.status === "pending") ??
          false;
        record(e, { pendingShown: shown });
      });
    });

    await signIn(u, "register", name);
    await connected(u).waitFor();
    await u.app.getByLabel("Room name").fill("Events");
    await u.app.getByRole("button", { name: "Create room" }).click();
    const code = (await u.app.locator("[data-share-code]").textContent()) ?? "";
    const composer = u.app.getByRole("textbox", { name: /^Message / });
    await composer.fill("hello events");
    await composer.press("Enter");
    await u.app.locator('[part~="message"][data-status="sent"] [data-text]', { hasText: "hello events" }).waitFor();
    await u.app.getByRole("button", { name: "Log out" }).click();
    await u.app.getByRole("heading", { name: "Welcome back" }).waitFor();

    const events = await seen();
    expect(events.every((e) => e.bubbles && e.composed)).toBe(true);
    const login = events.findIndex((e) => e.type === "chat-login");
    expect(events[login]?.detail).toEqual({ username: name });
    // Connected before the sign-in finished.
    expect(events.filter((e) => e.type === "chat-connection-change").map((e) => (e.detail as { state: string }).state)).toContain(
      "connected",
    );
    expect(
      events.findIndex((e) => e.type === "chat-connection-change" && (e.detail as { state: string }).state === "connected"),
    ).toBeLessThan(login);
    const send = events.filter((e) => e.type === "chat-message-send");
    expect(send).toHaveLength(1);
    expect(send[0]?.detail).toEqual({ room: code, clientMessageId: expect.stringMatching(/.+/) });
    expect(send[0]?.pendingShown).toBe(true);
    const logout = events.findIndex((e) => e.type === "chat-logout");
    expect(events[logout]?.detail).toEqual({});
    expect(logout).toBeGreaterThan(login);
    // Logging out closes the connection: the last connection event says so.
    expect(events.filter((e) => e.type === "chat-connection-change").at(-1)?.detail).toEqual({ state: "disconnected" });
    // The inner elements' requests stayed inside the component.
    expect(
      events.map((e) => e.type).filter((t) => !["chat-login", "chat-logout", "chat-connection-change", "chat-message-send"].includes(t)),
    ).toEqual([]);
    expect(u.errors).toEqual([]);
  });
});
