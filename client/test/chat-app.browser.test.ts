// Two people chatting through <chat-app> in real Chromium (one browser each) against a real server: sign-up,
// a room shared by its code, messages with pending → sent, members and join notices, typing, a network drop
// with recovery of what was missed, a reload that stays signed in, direct messages and logout.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../server/src/testing.ts";
import { connected, openUser, signIn, startChatServer, uniqueName, type User } from "./harness.ts";

/** Array.prototype.sort's default order (UTF-16 code units), spelled out. */
const byCodeUnits = (a: string | null | undefined, b: string | null | undefined): number =>
  (a ?? "") < (b ?? "") ? -1 : (a ?? "") > (b ?? "") ? 1 : 0;

const ROOM_CODE = /^[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{6}$/;

describe("<chat-app>: two users in two browsers", () => {
  let server: TestServer;
  let alice: User;
  let bob: User;
  const aliceName = uniqueName("alice");
  const bobName = uniqueName("bob");
  let code = "";

  const composer = (u: User) => u.app.getByRole("textbox", { name: /^Message / });
  const messages = (u: User) => u.app.locator('[part~="timeline"] [part~="message"]');
  const message = (u: User, text: string) => messages(u).filter({ has: u.page.locator("[data-text]", { hasText: text }) });
  const typingLine = (u: User) => u.app.locator('[part~="typing"]');
  const banner = (u: User) => u.app.locator('[part~="banner"]');
  const say = async (u: User, text: string) => {
    await composer(u).fill(text);
    await composer(u).press("Enter");
  };

  beforeAll(async () => {
    server = await startChatServer();
    [alice, bob] = await Promise.all([openUser(server), openUser(server)]);
  });

  afterAll(async () => {
    await Promise.all([alice?.close(), bob?.close()]);
    await server?.close();
  });

  it("registers two users, each in their own browser, and keeps the session token in localStorage", async () => {
    await alice.app.getByRole("heading", { name: "Welcome back" }).waitFor();
    await alice.screenshot("01-sign-in");
    await signIn(alice, "register", aliceName);
    await signIn(bob, "register", bobName);
    await Promise.all([connected(alice).waitFor(), connected(bob).waitFor()]);
    expect(await alice.app.locator("[data-me]").textContent()).toBe(aliceName);
    expect(await bob.app.locator("[data-me]").textContent()).toBe(bobName);
    const stored = await alice.page.evaluate(() =>
      Object.entries(localStorage).map(([k, v]) => [k, JSON.parse(v) as { token?: string }] as const),
    );
    expect(stored).toHaveLength(1);
    expect(stored[0]![0]).toBe(`protochat:${server.wsUrl}`);
    expect(stored[0]![1].token).toMatch(/^[A-Za-z0-9_-]{20,128}$/);
    // Each sees the other in the online list.
    await alice.app.locator(`[part~="online-item"][data-user="${bobName}"]`).waitFor();
    await bob.app.locator(`[part~="online-item"][data-user="${aliceName}"]`).waitFor();
    await alice.screenshot("02-lobby");
  });

  it("A creates a room and sees its code; B joins with the code shown in A's page", async () => {
    await alice.app.getByLabel("Room name").fill("Team standup");
    await alice.app.getByRole("button", { name: "Create room" }).click();
    const shown = alice.app.locator("[data-share-code]");
    await shown.waitFor();
    code = (await shown.textContent())?.trim() ?? "";
    expect(code).toMatch(ROOM_CODE);
    expect(await alice.app.locator('[part~="conversation-header"] [data-code]').getAttribute("data-code")).toBe(code);
    expect(await alice.app.getByRole("heading", { level: 1 }).textContent()).toContain("Team standup");
    await alice.screenshot("03-room-created");
    // The copy button puts the code on the clipboard.
    await alice.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.httpUrl });
    await alice.app.getByRole("button", { name: `Copy room code ${code}` }).click();
    await alice.app
      .getByRole("button", { name: `Copy room code ${code}` })
      .filter({ hasText: "Copied" })
      .waitFor();
    expect(await alice.page.evaluate(() => navigator.clipboard.readText())).toBe(code);

    // B types the code as a person would read it: lower case, with spaces around.
    await bob.app.getByLabel("Room code").fill(`  ${code.toLowerCase()} `);
    await bob.app.getByLabel("Room code").press("Enter");
    await bob.app.getByRole("heading", { level: 1, name: /Team standup/ }).waitFor();
    expect(await bob.app.locator(`[part~="room-item"][data-code="${code}"]`).count()).toBe(1);
  });

  it("shows the member list and count on both sides and a join notice in A's timeline", async () => {
    for (const u of [alice, bob]) {
      await u.app.locator('[part~="members"] [data-member-count="2"]').waitFor();
      const names = await u.app
        .locator('[part~="members"] [data-member]')
        .evaluateAll((els) => els.map((e) => e.getAttribute("data-member")));
      expect(names.sort(byCodeUnits)).toEqual([aliceName, bobName].sort(byCodeUnits));
    }
    await alice.app.locator('[part~="notice"]', { hasText: `${bobName} joined` }).waitFor();
    expect(await alice.app.locator('[part~="conversation-header"]').textContent()).toContain("2 members");
  });

  it("exchanges messages: own ones on the own side, others with their sender, and pending until acked", async () => {
    // Record every status the new message shows, from its first render on.
    await alice.app.evaluate((el) => {
      const seen: string[] = [];
      (window as unknown as { __statuses: string[] }).__statuses = seen;
      new MutationObserver((records) => {
        for (const r of records) {
          const nodes = r.type === "attributes" ? [r.target] : [...r.addedNodes];
          for (const n of nodes) if (n instanceof HTMLElement && n.dataset.status) seen.push(n.dataset.status);
        }
      }).observe(el.shadowRoot!.querySelector("chat-timeline")!.shadowRoot!, {
        subtree: true,
        childList: true,
        attributes: true,
        attributeFilter: ["data-status"],
      });
    });
    await say(alice, "Hello! Welcome to the standup.");
    const mine = message(alice, "Hello! Welcome to the standup.");
    await mine.and(alice.app.locator('[data-status="sent"]')).waitFor();
    const statuses = await alice.page.evaluate(() => (window as unknown as { __statuses: string[] }).__statuses);
    expect(statuses[0]).toBe("pending");
    expect(statuses.at(-1)).toBe("sent");
    expect(await mine.getAttribute("part")).toContain("message-own");
    expect(await composer(alice).inputValue()).toBe("");

    const theirs = message(bob, "Hello! Welcome to the standup.");
    await theirs.waitFor();
    expect(await theirs.getAttribute("part")).not.toContain("message-own");
    expect(await theirs.getAttribute("data-sender")).toBe(aliceName);
    expect(await theirs.locator(".sender").textContent()).toBe(aliceName);
    // With the time it was sent (the server's clock, here the same machine's).
    const sentAt = Date.parse((await theirs.locator("time").getAttribute("datetime")) ?? "");
    expect(Math.abs(Date.now() - sentAt)).toBeLessThan(60_000);
    expect(await theirs.locator("time").textContent()).toMatch(/^\d{2}:\d{2}$/);

    await say(bob, "Hi! Ready when you are.");
    await message(alice, "Hi! Ready when you are.").waitFor();
    await say(alice, "First item: the release.");
    await message(bob, "First item: the release.").waitFor();

    // Both see the same order, by seq.
    const order = async (u: User) => messages(u).locator("[data-text]").allTextContents();
    expect(await order(alice)).toEqual(["Hello! Welcome to the standup.", "Hi! Ready when you are.", "First item: the release."]);
    expect(await order(bob)).toEqual(await order(alice));

    // Own and others' bubbles look different.
    const bg = (l: ReturnType<typeof message>) => l.locator("[data-text]").evaluate((e) => getComputedStyle(e).backgroundColor);
    expect(await bg(message(alice, "First item"))).not.toBe(await bg(message(alice, "Hi! Ready")));
    await alice.screenshot("04-conversation-alice");
    await bob.screenshot("04-conversation-bob");
  });

  it("shows B that A is typing, and clears it when A sends and when A leaves the field", async () => {
    await composer(alice).click();
    await composer(alice).pressSequentially("I will take", { delay: 40 });
    await typingLine(bob)
      .filter({ hasText: `${aliceName} is typing…` })
      .waitFor();
    await bob.screenshot("05-typing");
    await composer(alice).pressSequentially(" it", { delay: 40 });
    await composer(alice).press("Enter");
    await message(bob, "I will take it").waitFor();
    await expect.poll(() => typingLine(bob).textContent(), { timeout: 2000 }).toBe("");

    // Typing again, then moving focus away stops the indicator at once (the server's own expiry is 5 s).
    await composer(alice).pressSequentially("hmm", { delay: 40 });
    await typingLine(bob).filter({ hasText: "is typing" }).waitFor();
    await composer(alice).blur();
    await expect.poll(() => typingLine(bob).textContent(), { timeout: 2500 }).toBe("");
    await composer(alice).fill("");
  });

  it("B drops off the network while A sends; back online, B shows the missed messages as recovered", async () => {
    await bob.setOffline(true);
    // The SDK notices the dead connection (missed pongs) and starts reconnecting.
    await bob.app.locator('[part~="connection-status"][data-state="connecting"]').waitFor();
    await banner(bob)
      .filter({ hasText: /Connection lost\. Reconnecting/ })
      .waitFor();
    await bob.screenshot("06-offline");

    const missed = ["While you were away: 1", "While you were away: 2", "While you were away: 3"];
    for (const text of missed) {
      await say(alice, text);
      await message(alice, text).and(alice.app.locator('[data-status="sent"]')).waitFor();
    }
    expect(await message(bob, "While you were away").count()).toBe(0);

    await bob.setOffline(false);
    await connected(bob).waitFor({ timeout: 20_000 });
    await banner(bob).filter({ hasText: "Reconnected — 3 missed messages recovered" }).waitFor();
    await bob.app.locator('[part~="notice"]', { hasText: "3 missed messages recovered" }).waitFor();
    const texts = await messages(bob).locator("[data-text]").allTextContents();
    expect(texts.slice(-3)).toEqual(missed);
    await bob.screenshot("07-recovered");
  });

  it("a message written while offline stays pending, then is sent once the connection is back", async () => {
    await bob.setOffline(true);
    await bob.app.locator('[part~="connection-status"][data-state="connecting"]').waitFor();
    await say(bob, "Written on the train");
    const pending = message(bob, "Written on the train");
    await pending.and(bob.app.locator('[data-status="pending"]')).waitFor();
    expect(await pending.locator("[data-delivery]").textContent()).toContain("Sending…");
    await bob.screenshot("08-pending-offline");
    await bob.setOffline(false);
    await pending.and(bob.app.locator('[data-status="sent"]')).waitFor({ timeout: 20_000 });
    await message(alice, "Written on the train").waitFor();
    // Retried with the same client message id: stored and shown once.
    await alice.page.waitForTimeout(300);
    expect(await message(alice, "Written on the train").count()).toBe(1);
    expect(await message(bob, "Written on the train").count()).toBe(1);
  });

  it("B reloads the page and is still signed in, back in the room with its history", async () => {
    await bob.page.reload();
    await connected(bob).waitFor();
    expect(await bob.app.locator("[data-me]").textContent()).toBe(bobName);
    await bob.app.getByRole("heading", { level: 1, name: /Team standup/ }).waitFor();
    await message(bob, "While you were away: 3").waitFor();
    const texts = await messages(bob).locator("[data-text]").allTextContents();
    expect(texts).toContain("Hello! Welcome to the standup.");
    expect(texts.at(-1)).toBe("Written on the train");
    // History shows own messages as own.
    expect(await message(bob, "Hi! Ready when you are.").getAttribute("part")).toContain("message-own");
  });

  it("sends direct messages between A and B, with an unread badge and history", async () => {
    await alice.app.locator(`[part~="online-item"][data-user="${bobName}"]`).click();
    await alice.app.getByRole("heading", { level: 1, name: bobName }).waitFor();
    await say(alice, "Psst, a direct message");
    await message(alice, "Psst, a direct message").and(alice.app.locator('[data-status="sent"]')).waitFor();

    const dmItem = bob.app.locator(`[part~="dm-item"][data-peer="${aliceName}"]`);
    await dmItem.locator(".badge", { hasText: "1" }).waitFor();
    await dmItem.click();
    const received = message(bob, "Psst, a direct message");
    await received.waitFor();
    expect(await received.getAttribute("data-sender")).toBe(aliceName);
    expect(await dmItem.locator(".badge").count()).toBe(0);
    await say(bob, "Got it, thanks");
    await message(alice, "Got it, thanks").waitFor();
    await alice.screenshot("09-direct-messages");

    // After a reload the conversation is still listed and its history loads.
    await bob.page.reload();
    await connected(bob).waitFor();
    await bob.app.getByRole("heading", { level: 1, name: aliceName }).waitFor();
    expect(await messages(bob).locator("[data-text]").allTextContents()).toEqual(["Psst, a direct message", "Got it, thanks"]);
  });

  it("B leaves the room: A sees a leave notice and the member count drop", async () => {
    await alice.app.locator(`[part~="room-item"][data-code="${code}"]`).click();
    await bob.app.locator(`[part~="room-item"][data-code="${code}"]`).click();
    // The network drop earlier may have produced a "left" notice already: count the new one.
    const leftNotices = alice.app.locator('[part~="notice"]', { hasText: `${bobName} left` });
    const before = await leftNotices.count();
    await bob.app.getByRole("button", { name: "Leave Team standup" }).click();
    // Leave asks first (see invite.browser.test.ts).
    await bob.app.getByRole("button", { name: "Leave room" }).click();
    await bob.app.locator(`[part~="room-item"][data-code="${code}"]`).waitFor({ state: "detached" });
    await expect.poll(() => leftNotices.count()).toBe(before + 1);
    await alice.app.locator('[part~="members"] [data-member-count="1"]').waitFor();
    expect(
      await alice.app.locator('[part~="members"] [data-member]').evaluateAll((els) => els.map((e) => e.getAttribute("data-member"))),
    ).toEqual([aliceName]);
  });

  it("logs A out: back to the sign-in form, the token forgotten, B sees A go offline", async () => {
    await alice.app.getByRole("button", { name: "Log out" }).click();
    await alice.app.getByRole("heading", { name: "Welcome back" }).waitFor();
    const token = await alice.page.evaluate(() => Object.values(localStorage).map((v) => (JSON.parse(v) as { token?: string }).token));
    expect(token.filter((t) => t !== undefined)).toEqual([]);
    await bob.app.locator(`[part~="online-item"][data-user="${aliceName}"]`).waitFor({ state: "detached" });
    await alice.page.reload();
    await alice.app.getByRole("heading", { name: "Welcome back" }).waitFor();
    await alice.screenshot("10-logged-out");
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
  });
});
