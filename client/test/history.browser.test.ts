// The timeline's scrolling in real Chromium: after a reload it opens at the newest message, "Load earlier
// messages" puts the older page above without moving what the reader sees, and sending scrolls back down.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../server/src/testing.ts";
import { connected, openUser, signIn, startChatServer, uniqueName, type User } from "./harness.ts";

const COUNT = 70;

describe("<chat-app> timeline scrolling and older history", () => {
  let server: TestServer;
  let u: User;

  beforeAll(async () => {
    // Seventy messages in one go: raise the per-connection frame limit for this test only.
    server = await startChatServer({ rateLimitPerSec: 1000, rateLimitBurst: 1000 });
    u = await openUser(server);
  });

  afterAll(async () => {
    await u?.close();
    await server?.close();
  });

  const log = () => u.app.locator('[part~="timeline"]');
  const texts = () => u.app.locator('[part~="message"] [data-text]').allTextContents();
  /** The log's scroll state, and where message `text` sits relative to the log's top edge. */
  const scroll = (text: string) =>
    log().evaluate((el, text) => {
      const msg = [...el.querySelectorAll("[data-text]")].find((m) => m.textContent === text);
      return {
        fromBottom: el.scrollHeight - el.scrollTop - el.clientHeight,
        top: el.scrollTop,
        offset: msg === undefined ? undefined : msg.getBoundingClientRect().top - el.getBoundingClientRect().top,
      };
    }, text);

  it("opens at the newest message, keeps the view when older ones load, and scrolls down on send", async () => {
    await signIn(u, "register", uniqueName("hal"));
    await connected(u).waitFor();
    await u.app.getByLabel("Room name").fill("Long history");
    await u.app.getByRole("button", { name: "Create room" }).click();
    await u.app.locator("[data-share-code]").waitFor();
    await u.app.evaluate((app: HTMLElement & { chat: { send(text: string): string | undefined } }, count) => {
      for (let i = 1; i <= count; i++) app.chat.send(`m${i}`);
    }, COUNT);
    await expect.poll(() => u.app.locator('[part~="message"][data-status="sent"]').count(), { timeout: 20_000 }).toBe(COUNT);

    // A reload shows the newest page (50) at the bottom, with older ones to load.
    await u.page.reload();
    await connected(u).waitFor();
    await u.app.locator("[data-text]", { hasText: `m${COUNT}` }).waitFor();
    const older = u.app.getByRole("button", { name: "Load earlier messages" });
    await older.waitFor();
    expect(await texts()).toHaveLength(50);
    await expect.poll(async () => (await scroll("")).fromBottom).toBeLessThan(2);

    // Read from the top, then load the page before: the message read stays where it was on screen.
    await log().evaluate((el) => (el.scrollTop = 0));
    const first = `m${COUNT - 49}`;
    const before = await scroll(first);
    await older.click();
    await expect.poll(async () => (await texts()).length).toBe(COUNT);
    const after = await scroll(first);
    expect(after.top).toBeGreaterThan(0);
    expect(Math.abs((after.offset ?? 0) - (before.offset ?? 0))).toBeLessThan(4);
    // The whole history is here: no more button.
    await older.waitFor({ state: "detached" });
    expect((await texts())[0]).toBe("m1");

    // Scrolled up, sending one's own message goes back to the newest.
    const composer = u.app.getByRole("textbox", { name: /^Message / });
    await composer.fill("back to the end");
    await composer.press("Enter");
    await u.app.locator('[part~="message"][data-status="sent"] [data-text]', { hasText: "back to the end" }).waitFor();
    await expect.poll(async () => (await scroll("")).fromBottom).toBeLessThan(2);
    expect(u.errors).toEqual([]);
  });
});
