// Endings the SDK does not reconnect from by itself, as a user sees them in real Chromium: the session logged
// out on another device (close 4104: back to the sign-in card, in words, and no further connection attempt),
// and a connection closed for sending too fast (close 4103 twice: the "Disconnected: …" banner, no automatic
// retry, and the Reconnect button that brings the page back).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../server/src/testing.ts";
import { connected, openUser, PASSWORD, signIn, startChatServer, uniqueName, type User } from "./harness.ts";

const openConnections = async (server: TestServer): Promise<number> =>
  ((await (await fetch(`${server.httpUrl}/healthz`)).json()) as { connections: number }).connections;

/** Counts the WebSockets the page opens from now on (Chromium reports each one, whether it connects or not). */
const countSockets = (u: User): { readonly opened: number } => {
  const counter = { opened: 0 };
  u.page.on("websocket", () => counter.opened++);
  return counter;
};

describe("<chat-app> when the session is logged out elsewhere", () => {
  let server: TestServer;
  let a: User;
  let b: User;
  const name = uniqueName("ana");

  beforeAll(async () => {
    server = await startChatServer();
    [a, b] = await Promise.all([openUser(server), openUser(server)]);
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.close();
  });

  it("returns to the sign-in card with the reason in words, does not reconnect, and logs in again", async () => {
    await signIn(a, "register", name);
    await connected(a).waitFor();
    await a.app.getByLabel("Room name").fill("Standup");
    await a.app.getByRole("button", { name: "Create room" }).click();
    await a.app.getByRole("heading", { level: 1, name: /Standup/ }).waitFor();

    // The second browser carries the same session: what a reload of a copied profile would find.
    const saved = await a.page.evaluate(() => {
      const k = Object.keys(localStorage).find((x) => x.startsWith("protochat:"));
      return k === undefined ? undefined : ([k, localStorage.getItem(k) ?? ""] as const);
    });
    expect(saved).toBeDefined();
    expect(JSON.parse(saved![1]) as { token?: string }).toHaveProperty("token");
    await b.page.evaluate(([k, v]) => localStorage.setItem(k, v), saved!);
    await b.page.reload();
    await connected(b).waitFor();
    await b.app.getByRole("heading", { level: 1, name: /Standup/ }).waitFor();
    await expect.poll(() => openConnections(server)).toBe(2);

    const sockets = countSockets(a);
    await b.app.getByRole("button", { name: "Log out" }).click();
    await b.app.getByRole("heading", { name: "Welcome back" }).waitFor();

    // The other page was closed with 4104: it says why, offers the log-in form (not sign-up), and forgot the token.
    await a.app.getByRole("alert").filter({ hasText: "You were logged out (the session ended elsewhere). Log in again." }).waitFor();
    await a.app.getByRole("heading", { name: "Welcome back" }).waitFor();
    expect(await a.app.getByRole("button", { name: "Log in", exact: true }).last().isVisible()).toBe(true);
    expect(await a.app.locator('[part~="app"]').count()).toBe(0);
    const token = await a.page.evaluate(() => {
      const k = Object.keys(localStorage).find((x) => x.startsWith("protochat:"));
      return k === undefined ? undefined : (JSON.parse(localStorage.getItem(k) ?? "{}") as { token?: string }).token;
    });
    expect(token).toBeUndefined();
    await a.screenshot("15-session-ended-elsewhere");

    // No connection attempt follows: none open at the server, none opened by the page, for a few seconds.
    await expect.poll(() => openConnections(server), { timeout: 5000, interval: 100 }).toBe(0);
    await a.page.waitForTimeout(3000);
    expect(sockets.opened).toBe(0);
    expect(await openConnections(server)).toBe(0);
    expect(await a.app.getByRole("heading", { name: "Welcome back" }).isVisible()).toBe(true);

    // Logging in with the password brings back the same rooms.
    await signIn(a, "login", name, PASSWORD);
    await connected(a).waitFor();
    await a.app.getByRole("heading", { level: 1, name: /Standup/ }).waitFor();
    expect(sockets.opened).toBe(1);
    await a.screenshot("15-logged-in-again");
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });
});

describe("<chat-app> after a close that does not reconnect by itself", () => {
  // A tiny per-connection budget: 8 frames at once, 2 a second after that. The page's own start-up traffic
  // (resume, rejoin, history, listings, a Ping a second) fits; fifty messages sent at once do not, and the
  // server closes with 4103. The SDK retries once after a pause, resends them, is closed again, and stops.
  let server: TestServer;
  let u: User;

  beforeAll(async () => {
    server = await startChatServer({ rateLimitPerSec: 2, rateLimitBurst: 8, heartbeatIntervalMs: 1000 });
    u = await openUser(server);
    await signIn(u, "register", uniqueName("flo"));
    await connected(u).waitFor();
    await u.app.getByLabel("Room name").fill("Flood");
    await u.app.getByRole("button", { name: "Create room" }).click();
    await u.app.getByRole("heading", { level: 1, name: /Flood/ }).waitFor();
  });

  afterAll(async () => {
    await u?.close();
    await server?.close();
  });

  const banner = () => u.app.locator('[part~="banner"]');

  it('shows "Disconnected: …" with a Reconnect button, stays disconnected, and reconnects when pressed', async () => {
    // Fifty messages in one go through the composer (Enter in the message field, as a user would press it).
    await u.app.getByRole("textbox", { name: /^Message / }).waitFor();
    await u.page.evaluate(() => {
      const composer = document.querySelector("chat-app")?.shadowRoot?.querySelector("chat-composer");
      const input = composer?.shadowRoot?.querySelector<HTMLTextAreaElement>("#composer-input");
      if (!input) throw new Error("no composer");
      for (let i = 1; i <= 50; i++) {
        input.value = `flood ${i}`;
        input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, composed: true, cancelable: true }));
      }
    });
    // First 4103: the page waits and retries by itself.
    await banner()
      .filter({ hasText: /Reconnecting/ })
      .waitFor();
    // Second 4103 in a row: it stops and says so.
    const stopped = banner().filter({ hasText: "Disconnected: Too much was sent too fast." });
    await stopped.waitFor({ timeout: 20_000 });
    await u.app.locator('[part~="connection-status"][data-state="disconnected"]').waitFor();
    const reconnect = stopped.getByRole("button", { name: "Reconnect" });
    await reconnect.waitFor();
    // Nothing is left looking as if it were still on its way: what was not acked says "Not sent: …".
    await u.app.locator('[part~="message"][data-status="failed"]').first().waitFor();
    expect(await u.app.locator('[part~="message"][data-status="pending"]').count()).toBe(0);
    expect(await u.app.locator('[part~="message-status"]', { hasText: "Sending" }).count()).toBe(0);
    await u.screenshot("16-disconnected-rate-limited");

    const sockets = countSockets(u);
    await expect.poll(() => openConnections(server), { timeout: 5000, interval: 100 }).toBe(0);
    await u.page.waitForTimeout(3000);
    expect(sockets.opened).toBe(0);
    expect(await openConnections(server)).toBe(0);
    expect(await stopped.isVisible()).toBe(true);
    expect(await u.app.locator('[part~="connection-status"][data-state="disconnected"]').isVisible()).toBe(true);

    await reconnect.click();
    await connected(u).waitFor();
    expect(sockets.opened).toBe(1);
    expect(await banner().count()).toBe(0);
    await u.app.getByRole("heading", { level: 1, name: /Flood/ }).waitFor();
    // The messages the server stored before the close are in the reloaded history; the page can send again.
    await expect.poll(() => u.app.locator('[part~="message"][data-status="sent"]').count()).toBeGreaterThan(0);
    const composer = u.app.getByRole("textbox", { name: /^Message / });
    await composer.fill("back after pressing Reconnect");
    await composer.press("Enter");
    await u.app.locator('[part~="message"][data-status="sent"] [data-text]', { hasText: "back after pressing Reconnect" }).waitFor();
    expect(await openConnections(server)).toBe(1);
    await u.screenshot("16-reconnected");
    expect(u.errors).toEqual([]);
  });
});
