// What tells a user about messages elsewhere, in real Chromium for two users: unread counts per room and DM,
// the total in the tab's title, @mentions highlighted and counted apart, the "New" divider on coming back,
// and desktop notifications while the page is hidden (switched on by a click, remembered, switchable off).
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../server/src/testing.ts";
import { connected, openUser, signIn, startChatServer, uniqueName, type User } from "./harness.ts";

/**
 * The page's visibility under test control (headless Chromium is always "visible"), and a recorder in front
 * of the Notification API that keeps what the page shows (the real permission is granted to the context).
 */
const PAGE_HOOKS = `
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => hidden });
  window.__setHidden = (h) => { hidden = h; document.dispatchEvent(new Event("visibilitychange")); };
  window.__notifications = [];
  const Real = window.Notification;
  window.Notification = class {
    static get permission() { return Real.permission; }
    static requestPermission() { return Real.requestPermission(); }
    constructor(title, options) { window.__notifications.push({ title, body: options.body, tag: options.tag }); this.onclick = null; }
    close() {}
  };
`;

describe("<chat-app> unread counts, mentions and notifications", () => {
  let server: TestServer;
  let a: User;
  let b: User;
  let aName = "";
  let bName = "";
  let code = "";

  const composer = (u: User) => u.app.getByRole("textbox", { name: /^Message / });
  const say = async (u: User, text: string) => {
    await composer(u).fill(text);
    await composer(u).press("Enter");
    await u.app.locator('[part~="message"][data-status="sent"] [data-text]', { hasText: text }).last().waitFor();
  };
  const roomItem = (u: User) => u.app.locator(`[part~="room-item"][data-code="${code}"]`);
  const setHidden = (u: User, hidden: boolean) =>
    u.page.evaluate((h) => (window as unknown as { __setHidden(h: boolean): void }).__setHidden(h), hidden);
  const shown = (u: User) =>
    u.page.evaluate(() => (window as unknown as { __notifications: Array<{ title: string; body: string }> }).__notifications);

  beforeAll(async () => {
    server = await startChatServer();
    [a, b] = await Promise.all([openUser(server), openUser(server)]);
    await b.context.grantPermissions(["notifications"]);
    await b.context.addInitScript(PAGE_HOOKS);
    await b.page.reload();
    aName = uniqueName("ava");
    bName = uniqueName("bo");
    await signIn(a, "register", aName);
    await signIn(b, "register", bName);
    await Promise.all([connected(a).waitFor(), connected(b).waitFor()]);
    await a.app.getByLabel("Room name").fill("Ops");
    await a.app.getByRole("button", { name: "Create room" }).click();
    code = (await a.app.locator("[data-share-code]").textContent()) ?? "";
    await b.app.getByLabel("Room code").fill(code);
    await b.app.getByLabel("Room code").press("Enter");
    await b.app.getByRole("heading", { level: 1, name: /Ops/ }).waitFor();
    await say(a, "first, read by both");
    await b.app.locator("[data-text]", { hasText: "first, read by both" }).waitFor();
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.close();
    if (server?.dataDir) rmSync(server.dataDir, { recursive: true, force: true });
  });

  it("counts unread messages and mentions per room, shows the total in the title, and clears both on opening", async () => {
    expect(await b.page.title()).toBe("protochat");
    await b.app.getByRole("button", { name: "New room or join" }).click();
    await say(a, `hey @${bName.toUpperCase()}, look at this`);
    await say(a, "and a plain one");
    await say(a, `@${bName}x is someone else`);
    await roomItem(b).locator('[part~="unread-badge"]', { hasText: "3" }).waitFor();
    // Only whole-name mentions count: one of the three.
    expect(await roomItem(b).locator('[part~="mention-badge"]').textContent()).toBe("@1");
    // Screen readers hear the counts in the item's name.
    expect(await b.app.getByRole("button", { name: /^Ops\s*, 3 unread messages, 1 mention$/ }).count()).toBe(1);
    await expect.poll(() => b.page.title()).toBe("(3) protochat");
    await b.screenshot("30-unread-and-mention-badges");

    await roomItem(b).click();
    await expect.poll(() => b.page.title()).toBe("protochat");
    expect(await roomItem(b).locator(".badge").count()).toBe(0);
    // The "New" divider sits right above the first message that came while away.
    const rows = await b.app
      .locator("li.msg, li.new-divider")
      .evaluateAll((els) => els.map((e) => (e.matches(".new-divider") ? "NEW" : (e.querySelector("[data-text]")?.textContent ?? ""))));
    expect(rows).toEqual([
      "first, read by both",
      "NEW",
      `hey @${bName.toUpperCase()}, look at this`,
      "and a plain one",
      `@${bName}x is someone else`,
    ]);
    // The mention is highlighted in the message; the look-alike name is not.
    expect(await b.app.locator("[data-mention]").allTextContents()).toEqual([`@${bName.toUpperCase()}`]);
    await b.screenshot("31-new-divider-and-mention");
  });

  it("counts a direct message in its DM and in the title", async () => {
    await a.app.locator(`[part~="online-item"][data-user="${bName}"]`).click();
    await say(a, "a direct word");
    const dm = b.app.locator(`[part~="dm-item"][data-peer="${aName}"]`);
    await dm.locator('[part~="unread-badge"]', { hasText: "1" }).waitFor();
    await expect.poll(() => b.page.title()).toBe("(1) protochat");
    await dm.click();
    await expect.poll(() => b.page.title()).toBe("protochat");
  });

  it("shows desktop notifications only once switched on, only while hidden, remembers the choice, and stops when off", async () => {
    const bell = b.app.getByRole("button", { name: "Desktop notifications" });
    expect(await bell.getAttribute("aria-pressed")).toBe("false");
    // Off: nothing is shown even while hidden.
    await setHidden(b, true);
    await say(a, "nobody is told");
    await expect.poll(() => b.page.title()).toBe("(1) protochat");
    expect(await shown(b)).toEqual([]);
    await setHidden(b, false);
    // The DM is open and the page in view again: that message is read.
    await expect.poll(() => b.page.title()).toBe("protochat");

    await bell.click();
    await expect.poll(() => bell.getAttribute("aria-pressed")).toBe("true");
    await say(a, "seen while in view");
    expect(await shown(b)).toEqual([]);
    await setHidden(b, true);
    await say(a, "now you are away");
    await expect
      .poll(() => shown(b))
      .toEqual([{ title: `${aName} (direct message)`, body: "now you are away", tag: `protochat:d:${aName.toLowerCase()}` }]);
    await setHidden(b, false);

    // Remembered across a reload.
    await b.page.reload();
    await connected(b).waitFor();
    await expect.poll(() => bell.getAttribute("aria-pressed")).toBe("true");
    await bell.click();
    await expect.poll(() => bell.getAttribute("aria-pressed")).toBe("false");
    await setHidden(b, true);
    await say(a, "switched off again");
    await expect.poll(() => b.page.title()).toBe("(1) protochat");
    expect(await shown(b)).toEqual([]);
    await setHidden(b, false);
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });
});
