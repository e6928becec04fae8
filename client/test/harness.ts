// Browser-test plumbing: a real chat server in-process (serving the built bundle and the demo page) and one
// Chromium per user, each a persistent context in its own fresh profile, so two users share nothing.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import type { Config } from "../../server/src/config.ts";
import { startServer, type TestServer } from "../../server/src/testing.ts";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOTS = join(import.meta.dirname, "../../artifacts/screenshots");

const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A server with fast timers and throttles raised for tests; serves client/index.html and client/dist/chat.js. */
export const startChatServer = (overrides: Partial<Config> = {}): Promise<TestServer> =>
  startServer({
    heartbeatIntervalMs: 300,
    typingTtlMs: 3000,
    registerPerIpPerMin: 1000,
    loginPerIpPerMin: 1000,
    joinFailuresPerMin: 1000,
    ...overrides,
  });

export interface User {
  readonly context: BrowserContext;
  readonly page: Page;
  /** The <chat-app> element; locators below it pierce its shadow root. */
  readonly app: Locator;
  /** Uncaught page errors and console errors, to assert none happened. */
  readonly errors: string[];
  /** Chromium's own network emulation: frames stop flowing and new connections fail, as when Wi-Fi drops. */
  setOffline(offline: boolean): Promise<void>;
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export const openUser = async (server: TestServer, options: { width?: number; height?: number } = {}): Promise<User> => {
  const profile = mkdtempSync(join(tmpdir(), "protochat-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: options.width ?? 1200, height: options.height ?? 760 },
    locale: "en-GB",
    timezoneId: "UTC",
  });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    // Chromium itself logs every WebSocket that fails to connect (offline, server restarting): expected in
    // the tests that cause it, and not the page's doing.
    if (m.type() === "error" && !/^WebSocket connection to .* failed/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  await page.goto(server.httpUrl);
  const app = page.locator("chat-app");
  return {
    context,
    page,
    app,
    errors,
    setOffline: (offline) => context.setOffline(offline),
    screenshot: async (name) => {
      mkdirSync(SCREENSHOTS, { recursive: true });
      const path = join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path });
      return path;
    },
    close: async () => {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
};

let counter = 0;
/** A username unique to this run (the server keeps accounts in its temp data dir). */
export const uniqueName = (base: string): string => `${base}${process.pid % 1000}${++counter}`;

export const PASSWORD = "correct horse battery";

/** Fills the sign-in form in register or login mode and submits it with Enter. */
export const signIn = async (user: User, mode: "register" | "login", username: string, password = PASSWORD): Promise<void> => {
  const app = user.app;
  await app
    .getByRole("button", { name: mode === "register" ? "Register" : "Log in", exact: true })
    .first()
    .click();
  await app.getByLabel("Username").fill(username);
  await app.getByLabel("Password").fill(password);
  await app.getByLabel("Password").press("Enter");
};

/** The connection pill says connected. */
export const connected = (user: User): Locator => user.app.locator('[part~="connection-status"][data-state="connected"]');
