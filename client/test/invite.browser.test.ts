// Sharing and leaving a room, in real Chromium for two users: the copyable invite link (?join=CODE) opens
// the app, asks a newcomer to log in or register and then joins the room (and leaves the address bar
// clean); a signed-in user joins straight away; a temporary room says when it disappears (the server's
// room grace); Leave asks first and can be cancelled.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../server/src/testing.ts";
import { connected, openUser, signIn, startChatServer, uniqueName, type User } from "./harness.ts";

describe("<chat-app> invite links and leaving", () => {
  let server: TestServer;
  let a: User;
  let b: User;
  let code = "";
  const bName = uniqueName("ivy");

  const heading = (u: User, name: RegExp) => u.app.getByRole("heading", { level: 1, name });
  const copiedLink = (u: User) => u.page.evaluate(() => navigator.clipboard.readText());

  beforeAll(async () => {
    // The page says what AuthOk.room_grace_ms says (client.session.roomGraceMs); this server leaves it at 0,
    // so the contract's default applies, which is also the server's: 30 s.
    server = await startChatServer();
    [a, b] = await Promise.all([openUser(server), openUser(server)]);
    await a.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.httpUrl });
    await signIn(a, "register", uniqueName("ian"));
    await connected(a).waitFor();
    await a.app.getByLabel("Room name").fill("Launch");
    await a.app.getByRole("button", { name: "Create room" }).click();
    code = (await a.app.locator("[data-share-code]").textContent()) ?? "";
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.close();
    if (server?.dataDir) rmSync(server.dataDir, { recursive: true, force: true });
  });

  it("copies an invite link that asks a newcomer to register, then joins the room and cleans the address bar", async () => {
    await a.app.getByRole("button", { name: "Copy invite link" }).first().click();
    await a.app.getByRole("button", { name: "Invite link copied" }).first().waitFor();
    const link = await copiedLink(a);
    expect(link).toBe(`${server.httpUrl.replace(/\/$/, "")}/?join=${code}`);

    await b.page.goto(link);
    await b.app.locator("[data-invite-note]", { hasText: `You were invited to room ${code}` }).waitFor();
    // The cursor starts in Username.
    await expect
      .poll(() =>
        b.page.evaluate(() =>
          document.querySelector("chat-app")?.shadowRoot?.querySelector("chat-login")?.shadowRoot?.activeElement?.getAttribute("name"),
        ),
      )
      .toBe("username");
    await b.screenshot("36-invite-login");
    await signIn(b, "register", bName);
    await heading(b, /Launch/).waitFor();
    expect(new URL(b.page.url()).search).toBe("");
    await a.app.locator('[part~="notice"]', { hasText: `${bName} joined` }).waitFor();
  });

  it("a signed-in user who opens an invite link joins at once; a bad code says so in words", async () => {
    await a.app.getByRole("button", { name: "New room or join" }).click();
    await a.app.getByLabel("Room name").fill("Second");
    await a.app.getByRole("button", { name: "Create room" }).click();
    const second = (await a.app.locator("[data-share-code]").textContent()) ?? "";
    await b.page.goto(`${server.httpUrl}?join=${second.toLowerCase()}`);
    await heading(b, /Second/).waitFor();
    expect(new URL(b.page.url()).search).toBe("");
    expect(await b.app.locator('[part~="room-item"]').count()).toBe(2);

    await b.page.goto(`${server.httpUrl}?join=ZZZZZZ`);
    await connected(b).waitFor();
    await b.app
      .locator('[part~="toast"]', {
        hasText: "Could not join the invited room ZZZZZZ: No room has that code. Check the code and try again.",
      })
      .waitFor();
    expect(new URL(b.page.url()).search).toBe("");
  });

  it("a temporary room says when it disappears; Leave asks first, Cancel keeps the room, confirming leaves", async () => {
    await b.app.locator(`[part~="room-item"][data-code="${code}"]`).click();
    await heading(b, /Launch/).waitFor();
    expect(await b.app.locator("[data-temporary]").textContent()).toBe("Temporary room: it disappears 30 seconds after everyone has left.");
    await b.app.getByRole("button", { name: "Leave Launch" }).click();
    const dialog = b.app.getByRole("alertdialog", { name: "Leave Launch?" });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain("It disappears 30 seconds after everyone has left.");
    await b.screenshot("37-leave-confirm");
    // Cancel (focused first, so Enter does not leave by accident).
    await b.page.keyboard.press("Enter");
    await dialog.waitFor({ state: "detached" });
    await heading(b, /Launch/).waitFor();
    // Escape cancels too.
    await b.app.getByRole("button", { name: "Leave Launch" }).click();
    await dialog.waitFor();
    await b.page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect(await b.app.locator(`[part~="room-item"][data-code="${code}"]`).count()).toBe(1);

    await b.app.getByRole("button", { name: "Leave Launch" }).click();
    await b.app.getByRole("button", { name: "Leave room" }).click();
    await b.app.locator(`[part~="room-item"][data-code="${code}"]`).waitFor({ state: "detached" });
    await a.app.locator(`[part~="room-item"][data-code="${code}"]`).click();
    await a.app.locator(".meta[data-member-count='1']").waitFor();
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });
});
