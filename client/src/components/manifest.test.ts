// The custom-elements manifest: running the analyzer with client/custom-elements-manifest.config.mjs lists
// <chat-app>'s attributes, events, parts and CSS properties (and the inner elements), from the JSDoc.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { EXPORT } from "./exported-parts.ts";

const CLIENT = join(import.meta.dirname, "../..");
const CEM = join(CLIENT, "../node_modules/@custom-elements-manifest/analyzer/cem.js");

interface Declaration {
  readonly name: string;
  readonly tagName?: string;
  readonly attributes?: ReadonlyArray<{ readonly name: string }>;
  readonly events?: ReadonlyArray<{ readonly name: string; readonly type?: { readonly text: string } }>;
  readonly cssParts?: ReadonlyArray<{ readonly name: string }>;
  readonly cssProperties?: ReadonlyArray<{ readonly name: string }>;
  readonly slots?: ReadonlyArray<{ readonly name: string }>;
}
interface Manifest {
  readonly modules: ReadonlyArray<{ readonly path: string; readonly declarations?: ReadonlyArray<Declaration> }>;
}

describe("custom-elements manifest", () => {
  const out = mkdtempSync(join(tmpdir(), "protochat-cem-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  const analyze = async (): Promise<Map<string, Declaration>> => {
    // The analyzer joins --outdir to its working directory, so it takes a relative path.
    await promisify(execFile)(
      process.execPath,
      [CEM, "analyze", "--config", "custom-elements-manifest.config.mjs", "--outdir", relative(CLIENT, out), "--quiet"],
      {
        cwd: CLIENT,
        timeout: 60_000,
      },
    );
    const manifest = JSON.parse(readFileSync(join(out, "custom-elements.json"), "utf8")) as Manifest;
    const elements = new Map<string, Declaration>();
    for (const mod of manifest.modules) for (const d of mod.declarations ?? []) if (d.tagName !== undefined) elements.set(d.tagName, d);
    return elements;
  };

  it("lists <chat-app>'s attribute, public events, parts and --chat-* properties, and every inner element", async () => {
    const elements = await analyze();
    const app = elements.get("chat-app");
    expect(app?.name).toBe("ChatApp");
    expect(app?.attributes?.map((a) => a.name)).toEqual(["server"]);
    expect(app?.events?.map((e) => [e.name, e.type?.text])).toEqual([
      ["chat-login", "CustomEvent<ChatLoginDetail>"],
      ["chat-logout", "CustomEvent<ChatLogoutDetail>"],
      ["chat-connection-change", "CustomEvent<ChatConnectionChangeDetail>"],
      ["chat-message-send", "CustomEvent<ChatMessageSendDetail>"],
    ]);
    const parts = app?.cssParts?.map((p) => p.name) ?? [];
    // The parts the browser tests and the README's theming example use.
    for (const part of [
      "app",
      "auth",
      "auth-form",
      "sidebar",
      "room-item",
      "dm-item",
      "online-item",
      "connection-status",
      "conversation-header",
      "room-code",
      "banner",
    ])
      expect(parts).toContain(part);
    for (const part of [
      "timeline",
      "message",
      "message-own",
      "bubble",
      "message-status",
      "notice",
      "typing",
      "composer",
      "composer-input",
      "members",
      "lobby",
      "public-rooms",
      "toast",
      "button",
      "input",
    ])
      expect(parts).toContain(part);
    const props = app?.cssProperties?.map((p) => p.name) ?? [];
    for (const prop of [
      "--chat-accent",
      "--chat-accent-fg",
      "--chat-bg",
      "--chat-fg",
      "--chat-surface",
      "--chat-border",
      "--chat-own-bg",
      "--chat-other-bg",
      "--chat-font",
      "--chat-radius",
      "--chat-sidebar-width",
    ])
      expect(props).toContain(prop);
    // No internal state leaks into the API.
    expect(JSON.stringify(app)).not.toMatch(/"_(authMode|sidebarOpen|sendError|copied)"/);

    expect([...elements.keys()].sort()).toEqual([
      "chat-app",
      "chat-attachment",
      "chat-banner",
      "chat-composer",
      "chat-conversation-header",
      "chat-conversation-start",
      "chat-lobby",
      "chat-login",
      "chat-member-list",
      "chat-sidebar",
      "chat-timeline",
      "chat-toasts",
    ]);
    // Every part an inner element documents is forwarded by <chat-app> (exportparts) and documented there.
    const forwarded: Record<string, string> = {
      "chat-login": EXPORT.login,
      "chat-sidebar": EXPORT.sidebar,
      "chat-conversation-header": EXPORT.header,
      "chat-banner": EXPORT.banner,
      "chat-lobby": EXPORT.lobby,
      "chat-timeline": EXPORT.timeline,
      // Inside <chat-timeline>, which passes its parts on.
      "chat-attachment": EXPORT.timeline,
      "chat-conversation-start": EXPORT.start,
      "chat-composer": EXPORT.composer,
      "chat-member-list": EXPORT.members,
      "chat-toasts": EXPORT.toasts,
    };
    for (const [tag, el] of elements) {
      if (tag === "chat-app") continue;
      const exported = (forwarded[tag] ?? "").split(",").map((p) => p.trim());
      for (const part of el.cssParts ?? []) {
        expect(parts, `${tag} part ${part.name}`).toContain(part.name);
        expect(exported, `${tag} part ${part.name} forwarded`).toContain(part.name);
      }
    }
    expect(elements.get("chat-composer")?.events?.map((e) => e.name)).toEqual([
      "chat-composer-submit",
      "chat-composer-input",
      "chat-composer-blur",
      "chat-reply-cancel",
    ]);
    expect(elements.get("chat-timeline")?.events?.map((e) => e.name)).toEqual([
      "chat-load-older",
      "chat-message-retry",
      "chat-message-reply",
      "chat-message-edit",
      "chat-message-delete",
      "chat-message-react",
    ]);
    expect(elements.get("chat-timeline")?.slots?.map((s) => s.name)).toEqual([""]);
  }, 90_000);
});
