// Connection trouble as a user sees it, in real Chromium: more missed messages than the server replays (the
// component says so and reloads history), and a server restart (both pages reconnect and carry on).
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../server/src/testing.ts";
import { connected, openUser, signIn, startChatServer, uniqueName, type User } from "./harness.ts";

describe("<chat-app> across connection trouble", () => {
  // The server replays at most 2 missed messages, so missing 3 cannot be recovered.
  const settings = { recoverLimit: 2 };
  let server: TestServer;
  let a: User;
  let b: User;
  let dataDir = "";

  const composer = (u: User) => u.app.getByRole("textbox", { name: /^Message / });
  const texts = (u: User) => u.app.locator('[part~="message"] [data-text]').allTextContents();
  const banner = (u: User) => u.app.locator('[part~="banner"]');
  const say = async (u: User, text: string) => {
    await composer(u).fill(text);
    await composer(u).press("Enter");
    await u.app.locator('[part~="message"][data-status="sent"] [data-text]', { hasText: text }).waitFor();
  };

  beforeAll(async () => {
    server = await startChatServer(settings);
    dataDir = server.dataDir;
    [a, b] = await Promise.all([openUser(server), openUser(server)]);
    await signIn(a, "register", uniqueName("ana"));
    await signIn(b, "register", uniqueName("ben"));
    await Promise.all([connected(a).waitFor(), connected(b).waitFor()]);
    await a.app.getByLabel("Room name").fill("Ops");
    await a.app.getByRole("button", { name: "Create room" }).click();
    const code = (await a.app.locator("[data-share-code]").textContent()) ?? "";
    await b.app.getByLabel("Room code").fill(code);
    await b.app.getByLabel("Room code").press("Enter");
    await b.app.getByRole("heading", { level: 1, name: /Ops/ }).waitFor();
    await say(a, "before the trouble");
    await b.app.locator("[data-text]", { hasText: "before the trouble" }).waitFor();
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("says it could not recover when too much was missed, and reloads the history instead", async () => {
    await b.setOffline(true);
    await b.app.locator('[part~="connection-status"][data-state="connecting"]').waitFor();
    for (const t of ["gap 1", "gap 2", "gap 3"]) await say(a, t);
    await b.setOffline(false);
    await banner(b).filter({ hasText: "Could not recover missed messages — reloaded history" }).waitFor({ timeout: 20_000 });
    await b.app.locator('[part~="notice"]', { hasText: "Could not recover missed messages" }).waitFor();
    await expect.poll(() => texts(b)).toEqual(["before the trouble", "gap 1", "gap 2", "gap 3"]);
    await b.screenshot("14-not-recovered");
  });

  it("rides out a server restart: both reconnect on their own and keep chatting in the same room", async () => {
    const port = server.port;
    await server.close({ keepData: true });
    await Promise.all([a, b].map((u) => u.app.locator('[part~="connection-status"][data-state="connecting"]').waitFor()));
    await banner(a)
      .filter({ hasText: /Reconnecting/ })
      .waitFor();
    server = await startChatServer({ ...settings, port, dataDir });
    // Each page says it is back (the notice stays for a few seconds), then shows connected.
    await Promise.all(
      [a, b].map((u) =>
        banner(u)
          .filter({ hasText: /Reconnected/ })
          .waitFor({ timeout: 30_000 }),
      ),
    );
    await Promise.all([connected(a).waitFor(), connected(b).waitFor()]);
    await say(a, "after the restart");
    await b.app.locator("[data-text]", { hasText: "after the restart" }).waitFor();
    expect(await texts(b)).toEqual(["before the trouble", "gap 1", "gap 2", "gap 3", "after the restart"]);
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });
});

describe("<chat-app> when a room is gone after a reconnect", () => {
  // An empty temporary room is destroyed 300 ms after its last member went; the server notices a silent
  // connection after heartbeat timeout (300 ms × 2 + 1 s).
  let server: TestServer;
  let u: User;

  beforeAll(async () => {
    server = await startChatServer({ roomGraceMs: 300 });
    u = await openUser(server);
    await signIn(u, "register", uniqueName("solo"));
    await connected(u).waitFor();
  });

  afterAll(async () => {
    await u?.close();
    await server?.close();
  });

  it("drops a temporary room that expired while the user was offline, and says so", async () => {
    await u.app.getByLabel("Room name").fill("Short-lived");
    await u.app.getByRole("button", { name: "Create room" }).click();
    await u.app.locator("[data-share-code]").waitFor();
    await u.setOffline(true);
    await u.app.locator('[part~="connection-status"][data-state="connecting"]').waitFor();
    // Wait until the server has timed the silent connection out, then for the empty room's grace to pass.
    const open = async () => ((await (await fetch(`${server.httpUrl}/healthz`)).json()) as { connections: number }).connections;
    await expect.poll(open, { timeout: 15_000, interval: 200 }).toBe(0);
    await u.page.waitForTimeout(1000);
    await u.setOffline(false);
    await connected(u).waitFor({ timeout: 20_000 });
    await u.app.getByRole("alert").filter({ hasText: "Short-lived no longer exists." }).waitFor();
    await u.app.locator('[part~="room-item"]').waitFor({ state: "detached" });
    await u.app.getByRole("heading", { name: "Create a room" }).waitFor();
    expect(u.errors).toEqual([]);
  });
});
