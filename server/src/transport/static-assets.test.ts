// Content negotiation and conditional requests for the web client's files, without sockets.
import { describe, expect, it } from "vitest";
import { choose, makeAsset, negotiateEncoding, notModified } from "./static-assets.ts";

describe("negotiateEncoding", () => {
  it("prefers br, then gzip, honours q=0 and *", () => {
    expect(negotiateEncoding(undefined)).toBe("identity");
    expect(negotiateEncoding("")).toBe("identity");
    expect(negotiateEncoding("gzip, deflate, br, zstd")).toBe("br");
    expect(negotiateEncoding("gzip")).toBe("gzip");
    expect(negotiateEncoding("x-gzip")).toBe("gzip");
    expect(negotiateEncoding("br;q=0, gzip;q=0.8")).toBe("gzip");
    expect(negotiateEncoding("BR ; Q=0.1")).toBe("br");
    expect(negotiateEncoding("*")).toBe("br");
    expect(negotiateEncoding("*;q=0")).toBe("identity");
    expect(negotiateEncoding("gzip;q=0, *")).toBe("br");
    expect(negotiateEncoding("deflate, identity")).toBe("identity");
    expect(negotiateEncoding("br;q=0.0")).toBe("identity");
  });
});

describe("notModified", () => {
  it("compares weakly, takes lists and *", () => {
    expect(notModified(undefined, `"a"`)).toBe(false);
    expect(notModified(`"a"`, `"a"`)).toBe(true);
    expect(notModified(`W/"a"`, `"a"`)).toBe(true);
    expect(notModified(`"b", "a"`, `"a"`)).toBe(true);
    expect(notModified(`"b"`, `"a"`)).toBe(false);
    expect(notModified(`*`, `"a"`)).toBe(true);
  });
});

describe("choose", () => {
  it("answers gzip to a Brotli client until Brotli is ready; a gzip copy still revalidates afterwards", async () => {
    const asset = await makeAsset(Buffer.from("const y = 2;\n".repeat(500)));
    expect(choose(asset, "gzip, br", undefined).variant.coding).toBe("gzip");
    await asset.complete;
    expect(choose(asset, "gzip, br", undefined).variant.coding).toBe("br");
    expect(choose(asset, "gzip, br", asset.gzip.etag)).toEqual({ variant: asset.gzip, notModified: true });
  });

  it("sends the best accepted coding; answers 304 for a copy the client can still use", async () => {
    const asset = await makeAsset(Buffer.from("const x = 1;\n".repeat(500)));
    await asset.complete;
    expect(choose(asset, "gzip, br", undefined)).toEqual({ variant: asset.br, notModified: false });
    expect(choose(asset, "gzip", undefined).variant.coding).toBe("gzip");
    expect(choose(asset, undefined, undefined).variant.coding).toBe("identity");
    expect(choose(asset, "gzip, br", asset.gzip.etag)).toEqual({ variant: asset.gzip, notModified: true });
    expect(choose(asset, "br;q=0", asset.gzip.etag)).toEqual({ variant: asset.identity, notModified: false });
  });

  it("does not send a compressed body larger than the original", async () => {
    const tiny = await makeAsset(Buffer.from("x"));
    await tiny.complete;
    expect(choose(tiny, "br, gzip", undefined).variant.coding).toBe("identity");
  });
});
