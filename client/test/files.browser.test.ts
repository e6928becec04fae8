// Files in real Chromium for two users: Alice pastes an image into the message field (it uploads with a progress
// row, then goes with the message); Bob sees its thumbnail and opens the full image in a modal dialog; a PDF
// picked with the Attach button arrives as a file chip with name, size and Download; a file over the server's
// limit is refused with a clear error before anything is sent.
import { rmSync } from "node:fs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../server/src/testing.ts";
import { connected, openUser, signIn, startChatServer, uniqueName, type User } from "./harness.ts";

const LIMIT = 256 * 1024;

describe("<chat-app> files", () => {
  let server: TestServer;
  let a: User;
  let b: User;
  let aName: string;

  const composer = (u: User) => u.app.getByRole("textbox", { name: /^Message / });

  beforeAll(async () => {
    server = await startChatServer({ maxUploadBytes: LIMIT });
    [a, b] = await Promise.all([openUser(server), openUser(server)]);
    aName = uniqueName("ana");
    await signIn(a, "register", aName);
    await signIn(b, "register", uniqueName("ben"));
    await Promise.all([connected(a).waitFor(), connected(b).waitFor()]);
    await a.app.getByLabel("Room name").fill("Files");
    await a.app.getByRole("button", { name: "Create room" }).click();
    const code = (await a.app.locator("[data-share-code]").textContent()) ?? "";
    await b.app.getByLabel("Room code").fill(code);
    await b.app.getByLabel("Room code").press("Enter");
    await b.app.getByRole("heading", { level: 1, name: /Files/ }).waitFor();
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.close();
    if (server?.dataDir) rmSync(server.dataDir, { recursive: true, force: true });
  });

  it("Alice pastes an image; Bob sees the thumbnail and opens the full image in a dialog", async () => {
    const png = await sharp({ create: { width: 640, height: 480, channels: 3, background: "#2266aa" } })
      .png()
      .toBuffer();
    await composer(a).fill("the view");
    await composer(a).evaluate((el, b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], "view.png", { type: "image/png" }));
      el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true, composed: true }));
    }, png.toString("base64"));
    await a.app.locator('[data-upload][data-state="done"]', { hasText: "view.png" }).waitFor();
    await composer(a).press("Enter");
    await expect.poll(() => a.app.locator("[data-upload]").count()).toBe(0);

    const thumb = b.app.getByRole("button", { name: "Open image view.png" });
    await thumb.waitFor();
    const img = thumb.locator("img");
    await img.waitFor();
    await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBe(320);
    expect(await img.getAttribute("alt")).toBe("view.png");
    await b.app.locator("li.msg", { hasText: "the view" }).waitFor();

    await thumb.click();
    const dialog = b.app.getByRole("dialog", { name: "view.png" });
    await dialog.waitFor();
    const full = dialog.locator("[data-full-image]");
    await expect.poll(() => full.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBe(640);
    await b.page.keyboard.press("Escape");
    await expect.poll(() => dialog.isVisible()).toBe(false);
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });

  it("a PDF picked with Attach arrives as a file chip with its name, size and Download", async () => {
    const pdf = Buffer.from("%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n", "latin1");
    await a.app.locator('input[type="file"]').setInputFiles({ name: "report.pdf", mimeType: "application/pdf", buffer: pdf });
    await a.app.locator('[data-upload][data-state="done"]', { hasText: "report.pdf" }).waitFor();
    await composer(a).press("Enter");
    const chip = b.app.locator("[data-file-chip]", { hasText: "report.pdf" });
    await chip.waitFor();
    expect(await chip.textContent()).toContain(`${pdf.length} B`);
    const download = b.page.waitForEvent("download");
    await chip.getByRole("button", { name: "Download report.pdf" }).click();
    expect((await download).suggestedFilename()).toBe("report.pdf");
  });

  it("an upload in progress shows a progress bar and can be cancelled; nothing is sent", async () => {
    // Hold the upload at the network layer so it stays in progress while the user looks at it.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await a.page.route("**/v1/uploads*", async (route) => {
      await held;
      await route.continue().catch(() => undefined);
    });
    try {
      const before = await b.app.locator("li.msg").count();
      await a.app
        .locator('input[type="file"]')
        .setInputFiles({ name: "slow.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(1000, 7) });
      const row = a.app.locator('[data-upload][data-state="uploading"]', { hasText: "slow.bin" });
      await row.waitFor();
      expect(await row.getByRole("progressbar", { name: "Uploading slow.bin" }).count()).toBe(1);
      await composer(a).fill("");
      await composer(a).press("Enter");
      expect(await a.app.getByRole("alert").filter({ hasText: "Wait for the files to finish uploading." }).count()).toBe(1);
      await row.getByRole("button", { name: "Cancel upload of slow.bin" }).click();
      await expect.poll(() => a.app.locator("[data-upload]").count()).toBe(0);
      expect(await a.app.getByRole("alert").filter({ hasText: "Wait for the files" }).count()).toBe(0);
      release();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await b.app.locator("li.msg").count()).toBe(before);
    } finally {
      release();
      await a.page.unroute("**/v1/uploads*");
    }
  });

  it("a file over the limit is refused with a clear error and nothing is sent", async () => {
    const before = await b.app.locator("li.msg").count();
    await a.app
      .locator('input[type="file"]')
      .setInputFiles({ name: "huge.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(LIMIT + 1, 1) });
    const failed = a.app.locator('[data-upload][data-state="failed"]', { hasText: "huge.bin" });
    await failed.waitFor();
    expect(await failed.getByRole("alert").textContent()).toContain("too large");
    await a.app.getByRole("button", { name: "Remove huge.bin" }).click();
    await expect.poll(() => a.app.locator("[data-upload]").count()).toBe(0);
    expect(await b.app.locator("li.msg").count()).toBe(before);
  });
});
