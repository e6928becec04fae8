// The component as a product surface in real Chromium: errors in words, a name on every control, keyboard-only
// use with visible focus, theming through --chat-* properties and ::part(), and the narrow (phone) layout.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../server/src/testing.ts";
import { connected, openUser, PASSWORD, signIn, startChatServer, uniqueName, type User } from "./harness.ts";

/** Controls in the component's shadow roots (its own and its inner elements') without an accessible name. */
const unnamedControls = (u: User): Promise<string[]> =>
  u.page.evaluate(() => {
    const out: string[] = [];
    const visit = (root: ShadowRoot): void => {
      for (const el of root.querySelectorAll<HTMLElement>("*")) if (el.shadowRoot) visit(el.shadowRoot);
      for (const el of root.querySelectorAll<HTMLElement>("button, input, textarea, select, [role=button], [tabindex]")) {
        if (el.getAttribute("aria-hidden") === "true" || el.closest("[hidden]")) continue;
        const labelled = el.getAttribute("aria-labelledby");
        const name =
          el.getAttribute("aria-label") ??
          (labelled
            ? labelled
                .split(" ")
                .map((id) => root.getElementById(id)?.textContent ?? "")
                .join(" ")
            : "") ??
          "";
        const labels = "labels" in el ? [...((el as HTMLInputElement).labels ?? [])].map((l) => l.textContent ?? "").join(" ") : "";
        const text = el.tagName === "BUTTON" ? (el.textContent ?? "") : "";
        if (`${name}${labels}${text}${el.title}`.trim() === "") out.push(el.outerHTML.slice(0, 120));
      }
    };
    visit(document.querySelector("chat-app")!.shadowRoot!);
    return out;
  });

/** The focused element inside the component (through its inner elements' shadow roots), by its accessible name. */
const focused = (u: User): Promise<string> =>
  u.page.evaluate(() => {
    let el = document.querySelector("chat-app")!.shadowRoot!.activeElement as HTMLElement | null;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement as HTMLElement;
    if (el === null) return "(none)";
    const label = "labels" in el ? [...((el as HTMLInputElement).labels ?? [])].map((l) => l.textContent?.trim()).join(" ") : "";
    return (el.getAttribute("aria-label") ?? (label || el.textContent?.trim()) ?? el.tagName).replace(/\s+/g, " ");
  });

describe("<chat-app> product surface", () => {
  let server: TestServer;
  let u: User;
  const name = uniqueName("kim");

  beforeAll(async () => {
    server = await startChatServer();
    u = await openUser(server);
  });

  afterAll(async () => {
    await u?.close();
    await server?.close();
  });

  it("can be used with the keyboard alone: sign up, create a room, send a message; focus is visible", async () => {
    await u.app.getByRole("heading", { name: "Welcome back" }).waitFor();
    // The cursor starts in Username.
    await expect.poll(() => focused(u)).toBe("Username");
    await u.page.keyboard.press("Shift+Tab");
    await u.page.keyboard.press("Shift+Tab");
    expect(await focused(u)).toBe("Log in");
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      await u.page.keyboard.press("Tab");
      order.push(await focused(u));
    }
    expect(order).toEqual(["Register", "Username", "Password", "Log in"]);
    // The focused submit button shows a focus ring (:focus-visible).
    const ring = await u.page.evaluate(() => {
      let el = document.querySelector("chat-app")!.shadowRoot!.activeElement!;
      while (el.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
      const s = getComputedStyle(el);
      return { style: s.outlineStyle, width: s.outlineWidth };
    });
    expect(ring.style).not.toBe("none");
    expect(ring.width).not.toBe("0px");

    for (let i = 0; i < 3; i++) await u.page.keyboard.press("Shift+Tab");
    expect(await focused(u)).toBe("Register");
    await u.page.keyboard.press("Enter");
    await u.app.getByRole("heading", { name: "Create your account" }).waitFor();
    await u.page.keyboard.press("Tab");
    await u.page.keyboard.type(name);
    await u.page.keyboard.press("Tab");
    await u.page.keyboard.type(PASSWORD);
    await u.page.keyboard.press("Enter");
    await connected(u).waitFor();

    // After sign-up the cursor is in the room-name field; Enter creates the room and moves to the composer.
    await expect.poll(() => focused(u)).toBe("Room name");
    await u.page.keyboard.type("Keyboard club");
    await u.page.keyboard.press("Enter");
    await u.app.locator("[data-share-code]").waitFor();
    await expect.poll(() => focused(u)).toMatch(/^Message #Keyboard club/);
    await u.page.keyboard.type("Typed without a mouse");
    await u.page.keyboard.press("Enter");
    await u.app.locator('[part~="message"][data-status="sent"] [data-text]', { hasText: "Typed without a mouse" }).waitFor();
    // Shift+Enter makes a new line instead of sending.
    await u.page.keyboard.type("line one");
    await u.page.keyboard.press("Shift+Enter");
    await u.page.keyboard.type("line two");
    await u.page.keyboard.press("Enter");
    await u.app.locator("[data-text]", { hasText: "line one" }).waitFor();
    expect(await u.app.locator("[data-text]").last().textContent()).toBe("line one\nline two");
  });

  it("gives every control an accessible name, and announces through live regions", async () => {
    expect(await unnamedControls(u)).toEqual([]);
    expect(await u.app.getByRole("log").count()).toBe(1);
    expect(await u.app.locator('[role="status"][aria-live="polite"]').count()).toBeGreaterThan(0);
    await u.app.getByRole("button", { name: "New room or join" }).click();
    await u.app.getByRole("heading", { name: "Create a room" }).waitFor();
    expect(await unnamedControls(u)).toEqual([]);
  });

  it("shows errors in words: a bad room code, an over-long message", async () => {
    await u.app.getByLabel("Room code").fill("ZZZZZZ");
    await u.app.getByRole("button", { name: "Join room" }).click();
    await u.app.getByRole("alert").filter({ hasText: "No room has that code. Check the code and try again." }).waitFor();

    await u.app.getByLabel("Room name").fill("");
    await u.app.getByLabel(/Public and persistent/).check();
    await u.app.getByRole("button", { name: "Create room" }).click();
    await u.app.getByRole("alert").filter({ hasText: "A public room needs a name." }).waitFor();

    await u.app.locator('[part~="room-item"]').first().click();
    const composer = u.app.getByRole("textbox", { name: /^Message / });
    await composer.fill("x".repeat(5000));
    await composer.press("Enter");
    await u.app.getByRole("alert").filter({ hasText: "That message is too long: 5000 bytes, the limit is 4096." }).waitFor();
    await composer.fill("");
  });

  it("shows sign-in errors in words: a wrong password, a taken name", async () => {
    await u.app.getByRole("button", { name: "Log out" }).click();
    await signIn(u, "login", name, "not the password");
    await u.app.getByRole("alert").filter({ hasText: "Wrong username or password" }).waitFor();
    await signIn(u, "register", name.toUpperCase());
    await u.app.getByRole("alert").filter({ hasText: "That username is taken" }).waitFor();
    expect(await unnamedControls(u)).toEqual([]);
    await signIn(u, "login", name);
    await connected(u).waitFor();
  });

  it("is themed from outside with --chat-* custom properties and ::part()", async () => {
    await u.page.addStyleTag({
      content: `chat-app { --chat-accent: rgb(0, 128, 96); --chat-font: "DejaVu Serif", serif; --chat-radius: 2px; }
                chat-app::part(sidebar) { background: rgb(250, 240, 230); }`,
    });
    // Logging out left every room: start a new one.
    await u.app.getByLabel("Room name").fill("Themes");
    await u.app.getByRole("button", { name: "Create room" }).click();
    const composer = u.app.getByRole("textbox", { name: /^Message / });
    await composer.fill("In my colours");
    await composer.press("Enter");
    const own = u.app.locator('[part~="message-own"] [data-text]').first();
    await own.waitFor();
    const style = await own.evaluate((e) => {
      const s = getComputedStyle(e);
      return { bg: s.backgroundColor, font: s.fontFamily, radius: s.borderTopLeftRadius };
    });
    expect(style).toEqual({ bg: "rgb(0, 128, 96)", font: '"DejaVu Serif", serif', radius: "2px" });
    expect(await u.app.locator('[part~="sidebar"]').evaluate((e) => getComputedStyle(e).backgroundColor)).toBe("rgb(250, 240, 230)");
    await u.screenshot("12-themed");
  });

  it("fits a phone: the sidebar becomes a menu, the conversation takes the width", async () => {
    await u.page.setViewportSize({ width: 390, height: 760 });
    const sidebar = u.app.locator('[part~="sidebar"]');
    const menu = u.app.getByRole("button", { name: "Open rooms and people" });
    await expect.poll(() => sidebar.isVisible()).toBe(false);
    expect(await menu.isVisible()).toBe(true);
    expect(await u.app.locator('[part~="members"]').isVisible()).toBe(false);
    const timeline = await u.app.locator('[part~="timeline"]').boundingBox();
    expect(timeline?.width).toBeGreaterThan(350);
    await u.screenshot("13-phone");
    await menu.click();
    await sidebar.waitFor();
    await u.screenshot("13-phone-menu");
    await u.page.keyboard.press("Escape");
    await expect.poll(() => sidebar.isVisible()).toBe(false);
    // The member list opens over the conversation from the header.
    await u.app.getByRole("button", { name: /^Members: / }).click();
    await u.app.locator('[part~="members"]').waitFor();
    await u.app.getByRole("button", { name: "Close member list" }).click();
    await expect.poll(() => u.app.locator('[part~="members"]').isVisible()).toBe(false);
    expect(u.errors).toEqual([]);
  });
});
