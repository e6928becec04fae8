// Message actions in real Chromium for two users: reply with a quote, edit (the "(edited)" mark on both
// sides), reactions as chips with counts and who reacted (toggled by a click), delete with a confirmation
// leaving a tombstone, all by keyboard where a user would; hostile text in edits and quotes stays text.
import { readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../server/src/testing.ts";
import { connected, openUser, signIn, startChatServer, uniqueName, type User } from "./harness.ts";

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** Serious and critical axe-core violations on the page as it is now (as in a11y.browser.test.ts). */
const seriousViolations = async (u: User): Promise<string[]> => {
  await u.page.evaluate(AXE_SOURCE);
  const violations = await u.page.evaluate(async () => {
    type Found = { id: string; impact: string | null; help: string; nodes: Array<{ target: unknown }> };
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Found[] }> } }).axe;
    return (await axe.run(document, { resultTypes: ["violations"] })).violations;
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(n.target)}`));
};

describe("<chat-app> message actions", () => {
  let server: TestServer;
  let a: User;
  let b: User;
  let aName: string;
  let bName: string;

  const composer = (u: User) => u.app.getByRole("textbox", { name: /^Message / });
  const say = async (u: User, text: string) => {
    await composer(u).fill(text);
    await composer(u).press("Enter");
    await u.app.locator('[part~="message-own"][data-status="sent"]', { hasText: text }).last().waitFor();
  };
  /** The newest message whose own text contains `text`, as `u` sees it (not a reply quoting it). */
  const message = (u: User, text: string) => u.app.locator("li.msg", { has: u.page.locator("[data-text]", { hasText: text }) }).last();
  /** The same message by its seq: stays found while its text is being edited or after it is deleted. */
  const pinned = async (u: User, text: string) => {
    const seq = await message(u, text).getAttribute("data-seq");
    return u.app.locator(`li.msg[data-seq="${seq}"]`);
  };

  beforeAll(async () => {
    server = await startChatServer();
    [a, b] = await Promise.all([openUser(server), openUser(server)]);
    aName = uniqueName("ana");
    bName = uniqueName("ben");
    await signIn(a, "register", aName);
    await signIn(b, "register", bName);
    await Promise.all([connected(a).waitFor(), connected(b).waitFor()]);
    await a.app.getByLabel("Room name").fill("Actions");
    await a.app.getByRole("button", { name: "Create room" }).click();
    const code = (await a.app.locator("[data-share-code]").textContent()) ?? "";
    await b.app.getByLabel("Room code").fill(code);
    await b.app.getByLabel("Room code").press("Enter");
    await b.app.getByRole("heading", { level: 1, name: /Actions/ }).waitFor();
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.close();
    if (server?.dataDir) rmSync(server.dataDir, { recursive: true, force: true });
  });

  it("reply by keyboard: the composer says what is answered; both see the reply with a quote of the original", async () => {
    await say(a, "Lunch at noon?");
    const original = message(b, "Lunch at noon?");
    await original.waitFor();
    // Keyboard only: focus the message's actions button, open it, choose Reply.
    const toggle = original.getByRole("button", { name: `Actions for message from ${aName}` });
    await toggle.focus();
    await toggle.press("Enter");
    await expect.poll(() => toggle.getAttribute("aria-expanded")).toBe("true");
    const reply = original.getByRole("button", { name: "Reply" });
    await expect.poll(() => reply.evaluate((el) => el.matches(":focus"))).toBe(true);
    await reply.press("Enter");
    const bar = b.app.locator("[data-reply-bar]");
    await expect.poll(() => bar.textContent()).toContain(`Replying to ${aName}: Lunch at noon?`);
    // The composer has the focus: type and send.
    await b.page.keyboard.type("Yes, see you there");
    await b.page.keyboard.press("Enter");
    const answer = message(a, "Yes, see you there");
    await answer.waitFor();
    await expect.poll(() => answer.locator("[data-quote]").textContent()).toMatch(new RegExp(`${aName}\\s+Lunch at noon\\?`));
    await expect.poll(() => bar.count()).toBe(0);
    await a.screenshot("60-actions-reply");
  });

  it("edit your own message: both see the new text with an (edited) mark; the quote of a reply follows", async () => {
    const mine = await pinned(a, "Lunch at noon?");
    await mine.getByRole("button", { name: "Actions for your message" }).click();
    await mine.getByRole("button", { name: "Edit" }).click();
    const field = mine.getByRole("textbox", { name: "Edit message" });
    await expect.poll(() => field.evaluate((el) => el.matches(":focus"))).toBe(true);
    await field.fill("Lunch at one? <img src=x onerror=window.__xss=1>");
    await field.press("Enter");
    const seen = message(b, "Lunch at one?");
    await seen.locator("[data-edited]").waitFor();
    expect(await seen.locator("[data-text]").textContent()).toBe("Lunch at one? <img src=x onerror=window.__xss=1>");
    expect(await seen.locator("[data-text] img").count()).toBe(0);
    await message(a, "Lunch at one?").locator("[data-edited]").waitFor();
    // The reply's quote shows the edited text.
    await expect.poll(() => message(b, "Yes, see you there").locator("[data-quote]").textContent()).toContain("Lunch at one?");
    // Someone else's message offers no Edit or Delete.
    const theirs = message(a, "Yes, see you there");
    await theirs.getByRole("button", { name: `Actions for message from ${bName}` }).click();
    expect(await theirs.getByRole("button", { name: "Edit" }).count()).toBe(0);
    expect(await theirs.getByRole("button", { name: "Delete" }).count()).toBe(0);
    await theirs.getByRole("button", { name: "Reply" }).press("Escape");
    expect(await a.page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
  });

  it("reactions: chips with counts and who reacted; a click on a chip toggles your own", async () => {
    const target = message(b, "Lunch at one?");
    await target.getByRole("button", { name: `Actions for message from ${aName}` }).click();
    await target.getByRole("button", { name: "React with 👍" }).click();
    const chipA = message(a, "Lunch at one?").locator('[data-reaction="👍"]');
    await expect.poll(() => chipA.getAttribute("title")).toBe(`Reacted by ${bName}`);
    expect(await chipA.getAttribute("aria-pressed")).toBe("false");
    // Alice adds hers by clicking the chip: 2, pressed for her.
    await chipA.click();
    await expect.poll(() => chipA.getAttribute("title")).toBe(`Reacted by ${bName}, ${aName}`);
    expect(await chipA.locator(".count").textContent()).toBe("2");
    expect(await chipA.getAttribute("aria-pressed")).toBe("true");
    // Any single emoji from the field.
    await target.getByRole("button", { name: `Actions for message from ${aName}` }).click();
    await target.getByRole("textbox", { name: "Any emoji" }).fill("🦀");
    await target.getByRole("textbox", { name: "Any emoji" }).press("Enter");
    await message(a, "Lunch at one?").locator('[data-reaction="🦀"]').waitFor();
    // Bob toggles his 👍 off: the count drops to 1 on both sides.
    const chipB = target.locator('[data-reaction="👍"]');
    await expect.poll(() => chipB.getAttribute("aria-pressed")).toBe("true");
    await chipB.click();
    await expect.poll(() => chipA.locator(".count").textContent()).toBe("1");
    await expect.poll(() => chipB.getAttribute("title")).toBe(`Reacted by ${aName}`);
    await b.screenshot("61-actions-reactions");
  });

  it("delete asks first, then leaves a tombstone for both; the quote says deleted", async () => {
    const mine = await pinned(a, "Lunch at one?");
    await mine.getByRole("button", { name: "Actions for your message" }).click();
    await mine.getByRole("button", { name: "Delete" }).click();
    const confirm = mine.getByRole("alertdialog", { name: "Delete message" });
    await confirm.waitFor();
    // Cancel keeps it.
    await confirm.getByRole("button", { name: "Cancel" }).click();
    expect(await mine.locator("[data-tombstone]").count()).toBe(0);
    await mine.getByRole("button", { name: "Actions for your message" }).click();
    await mine.getByRole("button", { name: "Delete" }).click();
    await mine.getByRole("alertdialog", { name: "Delete message" }).getByRole("button", { name: "Delete" }).click();
    const gone = b.app.locator("li.msg", { has: b.page.locator("[data-tombstone]") });
    await gone.waitFor();
    expect(await gone.textContent()).toContain("Message deleted");
    expect(await gone.locator("[data-reactions]").count()).toBe(0);
    expect(await b.app.locator("[data-text]", { hasText: "Lunch at one?" }).count()).toBe(0);
    await expect.poll(() => message(b, "Yes, see you there").locator("[data-quote]").textContent()).toContain("Message deleted");
    await a.app.locator("li.msg [data-tombstone]").waitFor();
    await b.screenshot("62-actions-deleted");
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });

  it("after a reload the history shows the current state: edited mark, tombstone, reactions", async () => {
    await say(a, "Second thoughts");
    const mine = await pinned(a, "Second thoughts");
    await mine.getByRole("button", { name: "Actions for your message" }).click();
    await mine.getByRole("button", { name: "Edit" }).click();
    await mine.getByRole("textbox", { name: "Edit message" }).fill("Third thoughts");
    await mine.getByRole("textbox", { name: "Edit message" }).press("Enter");
    await message(b, "Third thoughts").locator("[data-edited]").waitFor();
    await b.page.reload();
    await connected(b).waitFor();
    await b.app.getByRole("heading", { level: 1, name: /Actions/ }).waitFor();
    await message(b, "Third thoughts").locator("[data-edited]").waitFor();
    await b.app.locator("li.msg [data-tombstone]").waitFor();
    await message(b, "Yes, see you there").locator("[data-quote]", { hasText: "Message deleted" }).waitFor();
  });

  it("no serious axe violations with quotes, marks, chips, a tombstone, the reply bar and an open menu, light and dark", async () => {
    const target = message(b, "Yes, see you there");
    await b.page.keyboard.press("Escape");
    await target.getByRole("button", { name: "Actions for your message" }).click();
    await target.getByRole("button", { name: "React with 🎉" }).click();
    await target.locator('[data-reaction="🎉"]').waitFor();
    const theirs = message(b, "Third thoughts");
    await theirs.getByRole("button", { name: `Actions for message from ${aName}` }).click();
    await theirs.getByRole("button", { name: "Reply" }).click();
    await b.app.locator("[data-reply-bar]").waitFor();
    await theirs.getByRole("button", { name: `Actions for message from ${aName}` }).click();
    await theirs.locator("[data-menu]").waitFor();
    for (const colorScheme of ["light", "dark"] as const) {
      await b.page.emulateMedia({ colorScheme });
      await b.page.waitForTimeout(300);
      await b.screenshot(`63-actions-a11y-${colorScheme}`);
      expect.soft(await seriousViolations(b), colorScheme).toEqual([]);
    }
    await b.page.emulateMedia({ colorScheme: "light" });
  });
});
