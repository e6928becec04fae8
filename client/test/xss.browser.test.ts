// Untrusted text is shown as text: markup in usernames, a room name, messages, notices, the typing line and
// DMs renders literally in real Chromium, runs no script and creates no elements.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../server/src/testing.ts";
import { connected, openUser, signIn, startChatServer, type User } from "./harness.ts";

// Within the server's limits: usernames up to 32 code points, room names up to 64.
const IMG_USER = "<img src=x onerror=__xss=1>";
const SCRIPT_USER = "<script>__xss=2</script>";
const ROOM_NAME = "<img src=x onerror=__xss=3><script>__xss=4</script>";
const TEXT = `<img src=x onerror="window.__xss=5"> <script>window.__xss=6</script> <b>not bold</b> &amp; <a href="javascript:__xss=7">link</a>`;

describe("<chat-app> renders untrusted text as text", () => {
  let server: TestServer;
  let a: User;
  let b: User;

  const composer = (u: User) => u.app.getByRole("textbox", { name: /^Message / });
  const say = async (u: User, text: string) => {
    await composer(u).fill(text);
    await composer(u).press("Enter");
  };

  /** Nothing ran, and the component made no element from user text (it renders no img, script, b or a at all). */
  const assertInert = async (u: User) => {
    const state = await u.page.evaluate(() => {
      // Every shadow root of the component: its own and its inner elements'.
      const roots: ShadowRoot[] = [];
      const visit = (root: ShadowRoot): void => {
        roots.push(root);
        for (const el of root.querySelectorAll("*")) if (el.shadowRoot) visit(el.shadowRoot);
      };
      visit(document.querySelector("chat-app")!.shadowRoot!);
      return {
        xss: (window as unknown as { __xss?: unknown }).__xss,
        shadowRoots: roots.length > 1,
        inShadow: roots.reduce((n, root) => n + root.querySelectorAll("img, script, b, a, iframe, object").length, 0),
        inDocument: document.querySelectorAll("img, b, a, iframe, object").length,
        scripts: [...document.scripts].map((s) => s.getAttribute("src")),
      };
    });
    expect(state).toEqual({
      xss: undefined,
      shadowRoots: true,
      inShadow: 0,
      inDocument: 0,
      scripts: [expect.stringMatching(/^\/chat\.[0-9a-f]{16}\.js$/)],
    });
  };

  beforeAll(async () => {
    server = await startChatServer();
    [a, b] = await Promise.all([openUser(server), openUser(server)]);
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.close();
  });

  it("shows markup in usernames, a room name and a message literally, in every place they appear", async () => {
    await signIn(a, "register", IMG_USER);
    await signIn(b, "register", SCRIPT_USER);
    await Promise.all([connected(a).waitFor(), connected(b).waitFor()]);
    expect(await a.app.locator("[data-me]").textContent()).toBe(IMG_USER);
    expect(await a.app.locator('[part~="lobby"] h2').first().textContent()).toBe(`Hi ${IMG_USER}`);
    await a.app.locator('[part~="online-item"] .label', { hasText: SCRIPT_USER }).waitFor();

    // A persistent room, so B finds it in the public list by its (hostile) name.
    await a.app.getByLabel("Room name").fill(ROOM_NAME);
    await a.app.getByLabel(/Public and persistent/).check();
    await a.app.getByRole("button", { name: "Create room" }).click();
    await a.app.locator("[data-share-code]").waitFor();
    expect(await a.app.getByRole("heading", { level: 1 }).textContent()).toContain(ROOM_NAME);
    expect(await a.app.locator('[part~="room-item"] .label').textContent()).toBe(ROOM_NAME);

    await b.app.getByRole("button", { name: "Refresh" }).click();
    const listed = b.app.locator('[part~="public-rooms"] li', { hasText: ROOM_NAME });
    await listed.waitFor();
    expect(await listed.locator(".name").textContent()).toBe(ROOM_NAME);
    await listed.getByRole("button", { name: `Join ${ROOM_NAME}` }).click();
    await b.app.getByRole("heading", { level: 1, name: ROOM_NAME }).waitFor();

    await a.app.locator('[part~="notice"]', { hasText: `${SCRIPT_USER} joined` }).waitFor();
    for (const u of [a, b]) {
      const members = await u.app.locator('[part~="members"] [data-member] .label').allTextContents();
      expect(members.sort()).toEqual([IMG_USER, SCRIPT_USER].sort());
    }

    await composer(b).pressSequentially("typing", { delay: 30 });
    await a.app.locator('[part~="typing"]', { hasText: `${SCRIPT_USER} is typing…` }).waitFor();
    await composer(b).fill("");

    await say(a, TEXT);
    for (const u of [a, b]) {
      const bubble = u.app.locator('[part~="message"] [data-text]').last();
      await bubble.waitFor();
      expect(await bubble.textContent()).toBe(TEXT);
      expect(await bubble.evaluate((e) => e.childElementCount)).toBe(0);
    }
    expect(await b.app.locator('[part~="message"] .sender').last().textContent()).toBe(IMG_USER);
    await b.screenshot("11-xss-as-text");
    await assertInert(a);
    await assertInert(b);
  });

  it("shows markup in direct messages and peer names literally", async () => {
    await b.app.locator('[part~="online-item"] .label', { hasText: IMG_USER }).click();
    await b.app.getByRole("heading", { level: 1, name: IMG_USER }).waitFor();
    await say(b, TEXT);
    const dm = a.app.locator('[part~="dm-item"]');
    await dm.locator(".label", { hasText: SCRIPT_USER }).waitFor();
    await dm.click();
    const bubble = a.app.locator('[part~="message"] [data-text]').last();
    await bubble.waitFor();
    expect(await bubble.textContent()).toBe(TEXT);
    expect(await a.app.getByRole("heading", { level: 1 }).textContent()).toBe(SCRIPT_USER);
    await assertInert(a);
    await assertInert(b);
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });
});
