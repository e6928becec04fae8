// Interop between the Python client (conformance/python/) and a TypeScript client through a running server:
// TypeScript creates a room, Python joins it by code, both exchange messages and files (HTTP upload, attached by
// id, downloaded by the other), and Python stays connected
// past several heartbeat timeouts on its own Pings. Run against a server started with short timers:
//   node conformance/src/interop.ts --url ws://127.0.0.1:8080/ws [--python .cache/venv/bin/python]
// With --url given twice (two nodes of one cluster) the TypeScript client uses the first, Python the second.
// Prints one line per check and `N passed, N failed`; exits non-zero when a check failed.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { ClientFrameSchema } from "../../proto/gen/es/chat/v1/envelope_pb.js";
import { type Received, TestClient } from "./client.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");

type Kind = NonNullable<MessageInitShape<typeof ClientFrameSchema>["kind"]>;
type PyEvent = { event: string } & Record<string, unknown>;

const { values } = parseArgs({
  options: { url: { type: "string", multiple: true }, python: { type: "string" }, "stay-ms": { type: "string" } },
});
const url = values.url?.[0] ?? "ws://127.0.0.1:8080/ws";
const pyUrl = values.url?.[1] ?? url;
const python = values.python ?? join(root, ".cache/venv/bin/python");
const pyDir = join(root, "conformance/python");

let passed = 0;
let failed = 0;
const check = (name: string, ok: boolean, detail = "") => {
  if (ok) passed++;
  else failed++;
  process.stdout.write(`${ok ? "ok  " : "FAIL"} ${name}${!ok && detail ? `: ${detail}` : ""}\n`);
  return ok;
};

const send = (c: TestClient, kind: Kind): number => {
  const id = c.takeId();
  c.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { id, kind })));
  return id;
};

/** Waits for (and takes) the first buffered frame satisfying `pred`. */
const waitFrame = async (c: TestClient, pred: (f: Received) => boolean, ms: number): Promise<Received | undefined> => {
  const deadline = Date.now() + ms;
  for (;;) {
    const i = c.buffer.findIndex(pred);
    if (i >= 0) return c.buffer.splice(i, 1)[0];
    if (c.closed || Date.now() >= deadline) return undefined;
    await c.changed(deadline - Date.now());
  }
};

const body = (f: Received | undefined, kind: string) => (f?.json[kind] ?? {}) as Record<string, unknown>;

/** Runs a Python script; its JSON-lines events arrive through `events`. */
const runPython = (args: string[]) => {
  const child = spawn(python, args, { cwd: pyDir, stdio: ["ignore", "pipe", "pipe"] });
  const events: PyEvent[] = [];
  let wake: (() => void) | undefined;
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout }).on("line", (line) => {
    try {
      events.push(JSON.parse(line) as PyEvent);
    } catch {
      events.push({ event: "output", line });
    }
    wake?.();
  });
  const exited = new Promise<number>((resolve) =>
    child.on("close", (code) => {
      resolve(code ?? -1);
      wake?.();
    }),
  );
  let exitCode: number | undefined;
  void exited.then((c) => (exitCode = c));
  return {
    child,
    exited,
    stderr: () => stderr.trim().split("\n").slice(-5).join(" | "),
    /** Events not taken yet, for failure messages. */
    pending: () => JSON.stringify(events),
    async next(event: string, ms: number): Promise<PyEvent | undefined> {
      const deadline = Date.now() + ms;
      for (;;) {
        const i = events.findIndex((e) => e.event === event || e.event === "error");
        if (i >= 0) {
          const e = events.splice(i, 1)[0]!;
          return e.event === event ? e : { ...e, event: `error instead of ${event}` };
        }
        if (exitCode !== undefined || Date.now() >= deadline) return undefined;
        await new Promise<void>((r) => {
          const t = setTimeout(r, Math.max(0, deadline - Date.now()));
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
      }
    },
  };
};

const main = async () => {
  // 1. The generated Python code encodes the documented example byte for byte.
  const self = runPython(["interop.py", "--selftest"]);
  const st = await self.next("selftest", 20_000);
  check(
    "python encodes the docs/protocol.md example frame byte for byte",
    st?.ok === true && (await self.exited) === 0,
    st ? String(st.bytes) : self.stderr(),
  );

  // 2. The TypeScript side: register, create a room, keep its own heartbeat going.
  const run = randomBytes(3).toString("hex");
  const tsName = `ts-${run}`;
  const pyName = `py-${run}`;
  const opened = await TestClient.connect("ts", url);
  if (!opened.ok) {
    check("typescript client connects", false, opened.error);
    return;
  }
  const ts = opened.client;
  const regId = send(ts, { case: "register", value: { username: tsName, password: "typescript-password-1" } });
  const auth = body(await waitFrame(ts, (f) => f.id === regId, 5000), "auth_ok");
  const intervalMs = Number(auth.heartbeat_interval_ms ?? 0);
  const timeoutMs = Number(auth.heartbeat_timeout_ms ?? 0);
  if (!check("typescript client registers", intervalMs > 0, JSON.stringify(auth))) return;
  const pinger = setInterval(() => ts.isOpen && send(ts, { case: "ping", value: {} }), intervalMs);
  try {
    const createId = send(ts, { case: "createRoom", value: { name: "interop" } });
    const room = body(await waitFrame(ts, (f) => f.id === createId, 5000), "room_joined").room as { code?: string } | undefined;
    const code = room?.code ?? "";
    if (!check("typescript client creates a room", code.length === 6)) return;

    // 3. Python joins by code and says hello.
    const stayMs = Number(values["stay-ms"] ?? Math.max(3500, timeoutMs * 3.5));
    const py = runPython(["interop.py", "--url", pyUrl, "--room", code, "--name", pyName, "--peer", tsName, "--stay-ms", String(stayMs)]);
    const reg = await py.next("registered", 20_000);
    check("python client registers", reg?.username === pyName, JSON.stringify(reg) + py.stderr());
    const joined = await py.next("joined", 5000);
    const members = (joined?.members ?? []) as string[];
    check(
      "python client joins the room by code and sees both members",
      joined?.room === code && members.includes(tsName) && members.includes(pyName),
      JSON.stringify(joined),
    );
    const presence = await waitFrame(ts, (f) => f.kind === "presence" && body(f, "presence").username === pyName, 5000);
    check(
      "typescript client sees python join (presence JOINED)",
      body(presence, "presence").change === "PRESENCE_CHANGE_JOINED",
      JSON.stringify(presence?.json),
    );

    // 4. Messages both ways.
    const hello = await waitFrame(ts, (f) => f.kind === "message" && body(f, "message").sender === pyName, 5000);
    check("typescript client receives python's message", body(hello, "message").text === "hello from python", JSON.stringify(hello?.json));
    send(ts, { case: "sendMessage", value: { roomCode: code, clientMessageId: `ts-${run}-1`, text: "hello from typescript" } });
    const received = await py.next("received", 5000);
    check(
      "python client receives typescript's message",
      received?.text === "hello from typescript" && received?.sender === tsName,
      JSON.stringify(received),
    );

    // 4b. Message actions from Python: an edit of its hello, a reaction and a reply to the TypeScript message.
    const acted = await py.next("acted", 5000);
    check(
      "python client edits, reacts and replies",
      acted !== undefined && Number(acted.edit_seq) > 0,
      JSON.stringify(acted) + py.stderr(),
    );
    const action = (f: Received, kind: string) =>
      f.kind === "message" && (body(f, "message").action as { kind?: string } | undefined)?.kind === kind;
    const edited = body(await waitFrame(ts, (f) => action(f, "ACTION_KIND_EDIT"), 5000), "message");
    check(
      "typescript client receives python's edit as an action event on python's message",
      edited.sender === pyName &&
        edited.text === "hello from python (edited)" &&
        Number((edited.action as { target_seq?: unknown }).target_seq) === Number(acted?.target_seq),
      JSON.stringify(edited),
    );
    const reacted = body(await waitFrame(ts, (f) => action(f, "ACTION_KIND_REACTION_ADD"), 5000), "message");
    check(
      "typescript client receives python's reaction on its message",
      (reacted.action as { emoji?: string }).emoji === "👍" &&
        Number((reacted.action as { target_seq?: unknown }).target_seq) === Number(acted?.replied_to),
      JSON.stringify(reacted),
    );
    const answer = body(
      await waitFrame(ts, (f) => f.kind === "message" && body(f, "message").text === "a reply from python", 5000),
      "message",
    );
    check(
      "typescript client receives python's reply with a quote of its message",
      Number(answer.reply_to_seq) === Number(acted?.replied_to) &&
        (answer.reply_quote as { text?: string } | undefined)?.text === "hello from typescript",
      JSON.stringify(answer),
    );

    // 4c. Files both ways: Python uploads and attaches one, TypeScript downloads it; then the other way round.
    const http = `${new URL(url).protocol === "wss:" ? "https:" : "http:"}//${new URL(url).host}`;
    const token = typeof auth.session_token === "string" ? auth.session_token : "";
    const attached = await py.next("attached", 10_000);
    check("python client uploads a file and sends it attached", typeof attached?.id === "string", JSON.stringify(attached) + py.stderr());
    const fileMessage = body(
      await waitFrame(
        ts,
        (f) =>
          f.kind === "message" && body(f, "message").sender === pyName && ((body(f, "message").attachments ?? []) as unknown[]).length > 0,
        5000,
      ),
      "message",
    );
    const attachment = ((fileMessage.attachments ?? []) as Array<Record<string, unknown>>)[0];
    let downloaded = "";
    if (attachment !== undefined) {
      const res = await fetch(`${http}/v1/files/${String(attachment.id)}`, { headers: { Authorization: `Bearer ${token}` } });
      downloaded = res.ok ? await res.text() : `HTTP ${res.status}`;
    }
    check(
      "typescript client receives python's attachment and downloads it",
      attachment?.file_name === "from-python.txt" && downloaded === "a file from python\n",
      JSON.stringify(fileMessage) + ` body: ${JSON.stringify(downloaded)}`,
    );
    const up = await fetch(`${http}/v1/uploads?name=from-typescript.txt`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      body: "a file from typescript",
    });
    const upJson = (await up.json()) as { id?: string };
    send(ts, {
      case: "sendMessage",
      value: { roomCode: code, clientMessageId: `ts-${run}-file`, text: "a file", attachmentIds: [String(upJson.id)] },
    });
    const pyDownloaded = await py.next("downloaded", 10_000);
    check(
      "python client receives typescript's attachment and downloads it",
      pyDownloaded?.name === "from-typescript.txt" && pyDownloaded?.text === "a file from typescript",
      JSON.stringify(pyDownloaded) + py.stderr(),
    );

    // 5. Python stays connected past several heartbeat timeouts on its own Pings.
    const alive = await py.next("alive", stayMs + 5000);
    const pongs = Number(alive?.pongs ?? 0);
    check(
      `python client stays connected for ${stayMs} ms (${(stayMs / timeoutMs).toFixed(1)} heartbeat timeouts) by pinging`,
      alive !== undefined && pongs >= Math.floor(stayMs / intervalMs) - 2,
      `${JSON.stringify(alive)}; python events: ${py.pending()} ${py.stderr()}`,
    );
    const left = ts.buffer.find((f) => f.kind === "presence" && body(f, "presence").username === pyName);
    check("typescript client saw no LEFT for python meanwhile", left === undefined, JSON.stringify(left?.json));
    const still = await waitFrame(ts, (f) => f.kind === "message" && body(f, "message").text === "still here", 5000);
    check(
      "typescript client receives python's message after the wait",
      body(still, "message").sender === pyName,
      JSON.stringify(still?.json),
    );
    const done = await py.next("done", 5000);
    const exit = await py.exited;
    check("python client closes cleanly", done !== undefined && exit === 0, `exit ${exit} ${py.stderr()}`);
    const gone = await waitFrame(ts, (f) => f.kind === "presence" && body(f, "presence").change === "PRESENCE_CHANGE_LEFT", 5000);
    check("typescript client sees python leave (presence LEFT)", body(gone, "presence").username === pyName);
  } finally {
    clearInterval(pinger);
    await ts.close();
  }
};

await main();
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
