// The SDK's files against the real server on port 0: upload with progress, send with attachments (the member
// gets them on the message event), download with the token, and the refusals as FileError codes.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../../../server/src/testing.ts";
import { ChatClient, describeFileError, FileError, formatBytes } from "./index.ts";
import { PASSWORD, record, uniqueName, until } from "./test-support.ts";

let server: TestServer;
const clients: ChatClient[] = [];
const registered = async (prefix: string) => {
  const c = new ChatClient({ url: server.wsUrl, reconnect: { initialMs: 20, maxMs: 200 } });
  clients.push(c);
  await c.register(uniqueName(prefix), PASSWORD);
  return c;
};

beforeAll(async () => {
  server = await startServer({ registerPerIpPerMin: 1000, loginPerIpPerMin: 1000, maxUploadBytes: 64 * 1024 });
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(() => server.close());

describe("files", () => {
  it("uploads with progress, sends with attachments, and a member downloads the bytes", async () => {
    const alice = await registered("fa");
    const bob = await registered("fb");
    const room = await alice.createRoom("files");
    await bob.joinRoom(room.room!.code);
    const got = record(bob);
    const progress: number[] = [];
    const up = await alice.uploadFile(new Blob(["hello file"]), { name: "hello.txt", onProgress: (sent) => progress.push(sent) });
    expect(up).toMatchObject({ fileName: "hello.txt", sizeBytes: 10, thumbnailUrl: "" });
    expect(progress.at(-1)).toBe(10);
    const { acked } = alice.send(room.room!.code, "", { attachments: [up.id] });
    await acked;
    await until(() => got.of("message").some((m) => m.attachments.length === 1), "the message with its attachment");
    const message = got.of("message").find((m) => m.attachments.length === 1)!;
    expect(message.attachments[0]!.fileName).toBe("hello.txt");
    expect(await (await bob.downloadFile(message.attachments[0]!.id)).text()).toBe("hello file");
  });

  it("refusals are FileErrors with the server's code, in words", async () => {
    const alice = await registered("fc");
    const tooBig = await alice.uploadFile(new Blob([new Uint8Array(64 * 1024 + 1)]), { name: "big.bin" }).catch((e: unknown) => e);
    expect(tooBig).toBeInstanceOf(FileError);
    expect((tooBig as FileError).code).toBe("file-too-large");
    expect(describeFileError(tooBig, 64 * 1024)).toBe("That file is too large: the limit is 64 KB.");
    const controller = new AbortController();
    controller.abort();
    const aborted = await alice.uploadFile(new Blob(["x"]), { signal: controller.signal }).catch((e: unknown) => e);
    expect((aborted as FileError).code).toBe("aborted");
    const missing = await alice.downloadFile("AAAAAAAAAAAAAAAAAAAAAA").catch((e: unknown) => e);
    expect((missing as FileError).code).toBe("not-found");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(25 * 1024 * 1024)).toBe("25 MB");
  });
});
