// load/attachments: uploads and downloads mixed with chat. The smoke scenario's room traffic (4 rooms x 6 users,
// 40 msg/s) runs while uploaders, at an open-model rate, POST a file (an image every fourth time, else random
// bytes), attach it to a room message and have another member GET it back. Reports upload and download latency
// and throughput beside the chat's own e2e latency, so the cost of file traffic to chat shows.
import { randomBytes } from "node:crypto";
import sharp from "sharp";
import { ChatConn, nowMs } from "../src/chat-conn.ts";
import { sleep } from "../src/proc.ts";
import { num, type Scenario } from "../src/scenario.ts";
import { runTraffic } from "../src/traffic.ts";

const PASSWORD = "load-test-password";

export const scenario: Scenario = {
  name: "attachments",
  description:
    "chat at 40 msg/s (4 rooms x 6 users) while 4 uploaders send files at 4/s (256 KiB, every 4th an image) and a member downloads each",
  serverFlags: [
    "--rate-limit-per-sec",
    "200",
    "--rate-limit-burst",
    "400",
    "--uploads-per-min",
    "100000",
    "--upload-quota-bytes",
    String(64 * 1024 * 1024 * 1024),
  ],
  run: async (target, args) => {
    const durationSec = num(args, "duration", 10);
    const uploadRate = num(args, "upload-rate", 4);
    const fileBytes = num(args, "file-bytes", 256 * 1024);
    const uploaders = num(args, "uploaders", 4);
    const image = await sharp(randomBytes(400 * 300 * 3), { raw: { width: 400, height: 300, channels: 3 } })
      .jpeg({ quality: 90 })
      .toBuffer();
    const blob = randomBytes(fileBytes);

    // Uploaders and one downloader share a room of their own (the chat rooms stay as the smoke scenario has them).
    const tag = randomBytes(3).toString("hex");
    const register = async (name: string) => {
      const conn = await ChatConn.open(target.wsUrl);
      const ok = await conn.call({ case: "register", value: { username: name, password: PASSWORD } }, "authOk");
      conn.startHeartbeat(ok.heartbeatIntervalMs);
      return { conn, token: ok.sessionToken };
    };
    const owner = await register(`lt-${tag}-files-reader`);
    const code = (await owner.conn.call({ case: "createRoom", value: { name: "", persistent: false } }, "roomJoined")).room!.code;
    const senders = await Promise.all(Array.from({ length: uploaders }, (_, i) => register(`lt-${tag}-up${i}`)));
    for (const s of senders) await s.conn.call({ case: "joinRoom", value: { code } }, "roomJoined");

    const uploadMs: number[] = [];
    const downloadMs: number[] = [];
    let uploadedBytes = 0;
    let downloadedBytes = 0;
    let failures = 0;
    let stop = false;
    const inFlight = new Set<Promise<void>>();
    const one = async (k: number) => {
      const s = senders[k % senders.length]!;
      const body = k % 4 === 0 ? image : blob;
      const t0 = nowMs();
      const up = await fetch(`${target.httpUrl}/v1/uploads?name=f${k}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${s.token}` },
        body,
      });
      if (up.status !== 201) throw new Error(`upload HTTP ${up.status}`);
      const { id, sizeBytes } = (await up.json()) as { id: string; sizeBytes: number };
      uploadMs.push(nowMs() - t0);
      uploadedBytes += body.length;
      await s.conn.call(
        { case: "sendMessage", value: { roomCode: code, clientMessageId: `f-${k}`, text: "", attachmentIds: [id] } },
        "sendAck",
      );
      const t1 = nowMs();
      const down = await fetch(`${target.httpUrl}/v1/files/${id}`, { headers: { Authorization: `Bearer ${owner.token}` } });
      const bytes = (await down.arrayBuffer()).byteLength;
      if (down.status !== 200 || bytes !== sizeBytes) throw new Error(`download HTTP ${down.status}, ${bytes} of ${sizeBytes} bytes`);
      downloadMs.push(nowMs() - t1);
      downloadedBytes += bytes;
    };
    // Open model: upload k is started at start + k / rate, whatever the earlier ones are doing.
    const files = (async () => {
      const start = nowMs() + 1500; // after the chat scenario's setup has begun
      for (let k = 0; !stop; k++) {
        const wait = start + (k * 1000) / uploadRate - nowMs();
        if (wait > 0) await sleep(wait);
        if (stop) break;
        const p: Promise<void> = one(k).then(
          () => undefined,
          () => void failures++,
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
    })();

    const outcome = await runTraffic(
      target,
      {
        rooms: num(args, "rooms", 4),
        membersPerRoom: num(args, "members", 6),
        sendersPerRoom: 2,
        users: "unique",
        stages: [{ durationSec, rate: num(args, "rate", 40) }],
        textBytes: 64,
        drainMs: 5000,
        connectConcurrency: 8,
      },
      {
        // Loose: the machine is shared; the report, not this bound, is the measurement.
        e2e_latency_ms: ["p(95)<250", "p(99)<1000"],
        seq_gaps: ["count==0"],
        delivered_ratio: ["value>0.999"],
        acked_ratio: ["value==1"],
        upload_ms: ["p(95)<2000"],
        download_ms: ["p(95)<1000"],
        file_failures: ["count==0"],
      },
    );
    stop = true;
    await files;
    await Promise.all([...inFlight]);
    const r = outcome.registry;
    const up = r.trend("upload_ms");
    for (const ms of uploadMs) up.add(ms);
    const down = r.trend("download_ms");
    for (const ms of downloadMs) down.add(ms);
    r.counter("file_failures").add(failures);
    r.counter("files_uploaded").add(uploadMs.length);
    const seconds = outcome.durationSec;
    owner.conn.close();
    for (const s of senders) s.conn.close();
    return {
      ...outcome,
      options: { ...outcome.options, uploadRate, fileBytes, uploaders },
      notes: {
        ...outcome.notes,
        upload_MBps: Math.round((uploadedBytes / 1e6 / seconds) * 100) / 100,
        download_MBps: Math.round((downloadedBytes / 1e6 / seconds) * 100) / 100,
        files: uploadMs.length,
      },
    };
  },
};
