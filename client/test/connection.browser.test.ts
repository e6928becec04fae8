// The connection as a user sees it while the server is down, in real Chromium for two users: presence dots
// greyed (nobody's presence is known), a countdown that ticks down steadily to the next attempt and never
// shows more than the visible-page cap (4 s), both pages back within that cap once the server answers, and
// "Retry now" that skips the wait.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import type { TestServer } from "../../server/src/testing.ts";
import { connected, openUser, signIn, startChatServer, uniqueName, type User } from "./harness.ts";

const VISIBLE_CAP_S = 4;

describe("<chat-app> while the server is down", () => {
  let server: TestServer;
  let a: User;
  let b: User;
  let dataDir = "";
  let port = 0;

  const banner = (u: User) => u.app.locator('[part~="banner"]');
  const connecting = (u: User) => u.app.locator('[part~="connection-status"][data-state="connecting"]');
  /** The colour of the online dot on the first online user in the sidebar. */
  const dotColour = (u: User) =>
    u.app
      .locator('[part~="online-item"] .avatar')
      .first()
      .evaluate((el) => getComputedStyle(el, "::after").backgroundColor);

  beforeAll(async () => {
    server = await startChatServer();
    dataDir = server.dataDir;
    port = server.port;
    [a, b] = await Promise.all([openUser(server), openUser(server)]);
    await signIn(a, "register", uniqueName("cat"));
    await signIn(b, "register", uniqueName("cy"));
    await Promise.all([connected(a).waitFor(), connected(b).waitFor()]);
    await a.app.locator('[part~="online-item"]').first().waitFor();
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("greys the dots, counts down steadily within the cap, and is back within the cap once the server answers", async () => {
    const green = await dotColour(a);
    await server.close({ keepData: true });
    await Promise.all([connecting(a).waitFor(), connecting(b).waitFor()]);
    await expect.poll(() => dotColour(a)).not.toBe(green);
    // Watch the banner for 7 s of downtime (several failed attempts): every number shown is within the cap,
    // and it only ever goes down one second at a time (it goes up when a new wait starts after an attempt).
    const seen: string[] = [];
    const until = Date.now() + 7000;
    while (Date.now() < until) {
      seen.push(
        (await banner(a)
          .textContent()
          .catch(() => "")) ?? "",
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    const numbers = seen.map((t) => /in (\d+) s/.exec(t)?.[1]).map((n) => (n === undefined ? undefined : Number(n)));
    expect(numbers.filter((n) => n !== undefined).length).toBeGreaterThan(10);
    for (const n of numbers) if (n !== undefined) expect(n).toBeLessThanOrEqual(VISIBLE_CAP_S);
    for (let i = 1; i < numbers.length; i++) {
      const [prev, next] = [numbers[i - 1], numbers[i]];
      if (prev !== undefined && next !== undefined && next < prev) expect(prev - next).toBe(1);
    }
    await a.screenshot("38-countdown-greyed-dots");

    const restarted = Date.now();
    server = await startChatServer({ port, dataDir });
    await Promise.all([connected(a).waitFor({ timeout: 20_000 }), connected(b).waitFor({ timeout: 20_000 })]);
    const backAfterMs = Date.now() - restarted;
    console.log(`both pages back ${backAfterMs} ms after the server started again`);
    expect(backAfterMs).toBeLessThan(VISIBLE_CAP_S * 1000 + 2000);
    await expect.poll(() => dotColour(a)).toBe(green);
  });

  it("Retry now skips the wait", async () => {
    await server.close({ keepData: true });
    await connecting(a).waitFor();
    // Wait for a wait of 2 s or more, then bring the server back and press Retry now.
    await banner(a)
      .filter({ hasText: /in [234] s/ })
      .waitFor({ timeout: 20_000 });
    server = await startChatServer({ port, dataDir });
    const text = (await banner(a).textContent()) ?? "";
    const left = Number(/in (\d+) s/.exec(text)?.[1] ?? "0");
    const pressed = Date.now();
    await a.app.getByRole("button", { name: "Retry now" }).click();
    await connected(a).waitFor();
    const tookMs = Date.now() - pressed;
    console.log(`Retry now with ${left} s left: connected after ${tookMs} ms`);
    expect(tookMs).toBeLessThan((left - 1) * 1000);
    await connected(b).waitFor({ timeout: 20_000 });
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });
});
