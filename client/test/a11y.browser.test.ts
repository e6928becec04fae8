// Accessibility checked by axe-core in real Chromium: no serious or critical violation on the log-in, lobby
// and room screens (with a banner, markup, a mention, the unread badges and the leave question), in the light
// and the dark colour scheme. axe is evaluated into the page (not a script tag: the demo page's CSP allows
// only /chat.js) and reaches into the component's open shadow roots.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { rmSync } from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../server/src/testing.ts";
import { connected, openUser, signIn, startChatServer, uniqueName, type User } from "./harness.ts";

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface Violation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: ReadonlyArray<{ readonly target: unknown; readonly failureSummary?: string }>;
}

/** Serious and critical violations on the page as it is now, in words a failing test can show. */
const seriousViolations = async (page: Page): Promise<string[]> => {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Violation[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(n.target)}: ${n.failureSummary ?? ""}`));
};

describe("<chat-app> accessibility (axe-core)", () => {
  let server: TestServer;
  let a: User;
  let b: User;
  let bName = "";

  const composer = (u: User) => u.app.getByRole("textbox", { name: /^Message / });
  const say = async (u: User, text: string) => {
    await composer(u).fill(text);
    await composer(u).press("Enter");
    await u.app.locator('[part~="message-own"][data-status="sent"]').last().waitFor();
  };
  const bothSchemes = async (u: User, screen: string): Promise<void> => {
    for (const colorScheme of ["light", "dark"] as const) {
      await u.page.emulateMedia({ colorScheme });
      // Let transitions settle before colours are measured.
      await u.page.waitForTimeout(300);
      await u.screenshot(`40-a11y-${screen}-${colorScheme}`);
      expect.soft(await seriousViolations(u.page), `${screen}, ${colorScheme}`).toEqual([]);
    }
    await u.page.emulateMedia({ colorScheme: "light" });
  };

  beforeAll(async () => {
    server = await startChatServer();
    [a, b] = await Promise.all([openUser(server), openUser(server)]);
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.close();
    if (server?.dataDir) rmSync(server.dataDir, { recursive: true, force: true });
  });

  it("the log-in screen: a main landmark, focus in Username, no serious violations, with an error shown", async () => {
    await a.app.getByLabel("Username").waitFor();
    expect(await a.app.getByRole("main").count()).toBe(1);
    await expect.poll(() => a.page.evaluate(() => document.activeElement?.tagName)).toBe("CHAT-APP");
    await a.app.getByLabel("Username").fill(uniqueName("nobody"));
    await a.app.getByLabel("Password").fill("wrong password here");
    await a.app.getByLabel("Password").press("Enter");
    // A wrong password says only that (not "…or your session has ended").
    await a.app.getByRole("alert").filter({ hasText: "Wrong username or password." }).waitFor();
    expect(await a.app.getByRole("alert").textContent()).toBe("Wrong username or password.");
    await bothSchemes(a, "login");
  });

  it("the lobby", async () => {
    await signIn(a, "register", uniqueName("axa"));
    bName = uniqueName("axb");
    await signIn(b, "register", bName);
    await Promise.all([connected(a).waitFor(), connected(b).waitFor()]);
    await a.app.locator('[part~="online-item"]').first().waitFor();
    await bothSchemes(a, "lobby");
  });

  it("a room with messages, markup, a mention, unread badges, a banner and the leave question", async () => {
    await a.app.getByLabel("Room name").fill("Access");
    await a.app.getByRole("button", { name: "Create room" }).click();
    const code = (await a.app.locator("[data-share-code]").textContent()) ?? "";
    await b.app.getByLabel("Room code").fill(code);
    await b.app.getByLabel("Room code").press("Enter");
    await b.app.getByRole("heading", { level: 1, name: /Access/ }).waitFor();
    await say(a, "Hello, see https://example.com and `npm test`, **bold** *em*");
    await b.app.getByRole("button", { name: "New room or join" }).click();
    await say(a, `@${bName} a mention`);
    await b.app.locator('[part~="mention-badge"]').waitFor();
    await b.app.locator('[part~="room-item"]').first().click();
    await b.app.locator("[data-mention]").waitFor();
    await say(b, "and my own reply with https://example.org");
    await bothSchemes(b, "room");
    // A DM with an unread badge in the sidebar, while the room is open.
    await a.app.locator(`[part~="online-item"][data-user="${bName}"]`).click();
    await say(a, "a direct word");
    await b.app.locator('[part~="dm-item"] [part~="unread-badge"]').waitFor();
    await b.app.getByRole("button", { name: /^Leave / }).click();
    await b.app.getByRole("alertdialog").waitFor();
    await bothSchemes(b, "room-leave-question");
    await b.app.getByRole("button", { name: "Cancel" }).click();
    // The connection banner with its countdown and Retry now.
    await b.setOffline(true);
    await b.app.locator('[part~="banner"]').waitFor();
    await bothSchemes(b, "room-offline");
    await b.setOffline(false);
    await connected(b).waitFor({ timeout: 20_000 });
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });
});
