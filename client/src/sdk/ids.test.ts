// Client message ids are v4 UUIDs with or without crypto.randomUUID (missing outside secure contexts).
import { afterEach, expect, it, vi } from "vitest";
import { newMessageId } from "./ids.ts";

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

afterEach(() => {
  vi.unstubAllGlobals();
});

it("uses crypto.randomUUID when there is one", () => {
  const ids = new Set(Array.from({ length: 100 }, newMessageId));
  expect(ids.size).toBe(100);
  for (const id of ids) expect(id).toMatch(V4);
});

it("builds a v4 UUID from getRandomValues on an insecure page", () => {
  const real = globalThis.crypto;
  vi.stubGlobal("crypto", { getRandomValues: (a: Uint8Array<ArrayBuffer>) => real.getRandomValues(a) });
  expect(typeof (globalThis.crypto as Partial<typeof globalThis.crypto>).randomUUID).toBe("undefined");
  const ids = new Set(Array.from({ length: 100 }, newMessageId));
  expect(ids.size).toBe(100);
  for (const id of ids) expect(id).toMatch(V4);
});
