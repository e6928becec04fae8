// Reading a conversation, in real Chromium for two users: message markup (links, emphasis, strong, code)
// rendered as elements built from text (hostile input runs nothing and adds no other element), the
// "N new messages" / "Jump to latest" button when scrolled up, and date separators with times that carry
// the day.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../server/src/testing.ts";
import { connected, openUser, signIn, startChatServer, uniqueName, type User } from "./harness.ts";

const HOSTILE = [
  "javascript:window.__xss=1",
  "[click](javascript:window.__xss=2)",
  'https://example.com/"><img src=x onerror=window.__xss=3>',
  "**<script>window.__xss=4</script>**",
  "`<img src=x onerror=window.__xss=5>`",
  "***both*** **a *b** c* *<b>x</b>*",
  "JAVASCRIPT:window.__xss=6 data:text/html,<script>window.__xss=7</script> vbscript:x",
  '<a href="https://example.com" onclick="window.__xss=8">x</a>',
  "mailto:x@example.com?subject=<b>hi</b>",
];

describe("<chat-app> reading a conversation", () => {
  let server: TestServer;
  let a: User;
  let b: User;

  const composer = (u: User) => u.app.getByRole("textbox", { name: /^Message / });
  // Markup changes what a message reads like, so a send is followed by its count, not by its text.
  const say = async (u: User, text: string) => {
    const own = u.app.locator('[part~="message-own"]');
    const before = await own.count();
    await composer(u).fill(text);
    await composer(u).press("Enter");
    await expect.poll(() => own.count()).toBe(before + 1);
    await own.last().and(u.app.locator('[data-status="sent"]')).waitFor();
  };
  const scroller = (u: User) => u.app.locator('[part~="timeline"]');
  const lastText = (u: User, text: string) => u.app.locator("[data-text]", { hasText: text }).last();

  beforeAll(async () => {
    server = await startChatServer();
    [a, b] = await Promise.all([openUser(server), openUser(server, { height: 640 })]);
    await signIn(a, "register", uniqueName("rae"));
    await signIn(b, "register", uniqueName("rob"));
    await Promise.all([connected(a).waitFor(), connected(b).waitFor()]);
    await a.app.getByLabel("Room name").fill("Reading");
    await a.app.getByRole("button", { name: "Create room" }).click();
    const code = (await a.app.locator("[data-share-code]").textContent()) ?? "";
    await b.app.getByLabel("Room code").fill(code);
    await b.app.getByLabel("Room code").press("Enter");
    await b.app.getByRole("heading", { level: 1, name: /Reading/ }).waitFor();
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.close();
    if (server?.dataDir) rmSync(server.dataDir, { recursive: true, force: true });
  });

  it("renders links, emphasis, strong and code as elements, with safe links", async () => {
    await say(a, "See https://example.com/docs?a=1. Or mail mailto:team@example.com, *soon* **now** `npm test`");
    const bubble = lastText(b, "See https://example.com/docs");
    await bubble.waitFor();
    const link = bubble.locator("a").first();
    expect(await link.getAttribute("href")).toBe("https://example.com/docs?a=1");
    expect(await link.textContent()).toBe("https://example.com/docs?a=1");
    expect(await link.getAttribute("target")).toBe("_blank");
    expect(await link.getAttribute("rel")).toBe("noopener noreferrer");
    expect(await bubble.locator("a").nth(1).getAttribute("href")).toBe("mailto:team@example.com");
    expect(await bubble.locator("em").textContent()).toBe("soon");
    expect(await bubble.locator("strong").textContent()).toBe("now");
    expect(await bubble.locator("code").textContent()).toBe("npm test");
    // The sentence's full stop and comma stay outside the links; the text reads as typed without markers.
    expect(await bubble.textContent()).toBe("See https://example.com/docs?a=1. Or mail mailto:team@example.com, soon now npm test");
    await b.screenshot("32-markup");
  });

  it("hostile input runs nothing and makes no element but a, strong, em and code, and only http(s)/mailto links", async () => {
    for (const text of HOSTILE) await say(a, text);
    await lastText(b, "mailto:x@example.com?subject").waitFor();
    const found = await b.page.evaluate(() => {
      const roots: ShadowRoot[] = [];
      const visit = (root: ShadowRoot): void => {
        roots.push(root);
        for (const el of root.querySelectorAll("*")) if (el.shadowRoot) visit(el.shadowRoot);
      };
      visit(document.querySelector("chat-app")!.shadowRoot!);
      const inBubbles = roots.flatMap((r) => [...r.querySelectorAll("[data-text] *")]);
      return {
        xss: (window as unknown as { __xss?: unknown }).__xss,
        tags: [...new Set(inBubbles.map((e) => e.tagName.toLowerCase()))].sort(),
        hrefs: inBubbles
          .filter((e) => e.tagName === "A")
          .map((e) => [e.getAttribute("href"), e.getAttribute("target"), e.getAttribute("rel")]),
        handlers: inBubbles.flatMap((e) => e.getAttributeNames().filter((n) => n.startsWith("on"))),
        elsewhere: roots.reduce((n, root) => n + root.querySelectorAll("img, script, iframe, object, b").length, 0),
      };
    });
    expect(found.xss).toBeUndefined();
    expect(found.handlers).toEqual([]);
    expect(found.elsewhere).toBe(0);
    for (const tag of found.tags) expect(["a", "code", "em", "strong"]).toContain(tag);
    for (const [href, target, rel] of found.hrefs) {
      expect(href).toMatch(/^(https?:\/\/|mailto:)/);
      expect(target).toBe("_blank");
      expect(rel).toBe("noopener noreferrer");
    }
    // Each hostile line still reads as typed (apart from the markers that paired).
    expect(await lastText(b, "javascript:window.__xss=1").textContent()).toBe("javascript:window.__xss=1");
    expect(await lastText(b, "<script>window.__xss=4</script>").textContent()).toBe("<script>window.__xss=4</script>");
    expect(await lastText(b, "<img src=x onerror=window.__xss=5>").locator("code").textContent()).toBe(
      "<img src=x onerror=window.__xss=5>",
    );
    expect(await lastText(b, "https://example.com/").locator("a").getAttribute("href")).toBe("https://example.com/");
    await b.screenshot("33-hostile-markup");
  });

  it("scrolled up, new messages show a count; the button jumps to them; at the end it goes", async () => {
    for (let i = 1; i <= 14; i++) await say(a, `filler ${i}`);
    await lastText(b, "filler 14").waitFor();
    await scroller(b).evaluate((el) => (el.scrollTop = 0));
    const jump = b.app.locator('[part~="jump-button"]');
    await jump.filter({ hasText: "Jump to latest" }).waitFor();
    await say(a, "news 1");
    await say(a, "news 2");
    await jump.filter({ hasText: "2 new messages" }).waitFor();
    await b.screenshot("34-new-messages-button");
    await jump.click();
    await jump.waitFor({ state: "detached" });
    await expect.poll(() => scroller(b).evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(4);
    // Own messages never count as new for their sender: A, scrolled up, sends and lands at the end.
    await scroller(a).evaluate((el) => (el.scrollTop = 0));
    await say(a, "mine");
    await expect.poll(() => scroller(a).evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(4);
  });

  it("puts a date separator above each day and carries the day in times that are not today", async () => {
    expect(await b.app.locator('[part~="day-separator"]').allTextContents()).toEqual(["Today"]);
    // The page's clock a day ahead: the same messages are now yesterday's.
    await b.page.clock.setFixedTime(Date.now() + 24 * 3600 * 1000);
    await b.app.getByRole("button", { name: "New room or join" }).click();
    await b.app.locator('[part~="room-item"]').first().click();
    await expect.poll(() => b.app.locator('[part~="day-separator"]').allTextContents()).toEqual(["Yesterday"]);
    const time = (await b.app.locator('[part~="message"] time').first().textContent()) ?? "";
    expect(time).toMatch(/^[A-Z][a-z]{2} \d{2}:\d{2}$/);
    // Opened again, the log shows its newest message at the end.
    await expect.poll(() => scroller(b).evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(4);
    await b.screenshot("35-date-separator");
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });
});
