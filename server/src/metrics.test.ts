// The frame counter is kept in plain numbers and handed to prom-client at scrape time: /metrics must show
// exactly the frames received, however often it is read.
import { describe, expect, it } from "vitest";
import { makeMetrics } from "./metrics.ts";

const framesIn = async (m: ReturnType<typeof makeMetrics>, kind: string) => {
  const line = (await m.registry.metrics()).split("\n").find((l) => l.startsWith(`chat_frames_in_total{kind="${kind}"} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
};

describe("chat_frames_in_total", () => {
  it("counts every frame by kind, once, across scrapes", async () => {
    const m = makeMetrics({ defaultMetrics: false });
    expect(await framesIn(m, "ping")).toBeUndefined();
    for (let i = 0; i < 3; i++) m.frameIn("ping");
    m.frameIn("sendMessage");
    expect(await framesIn(m, "ping")).toBe(3);
    expect(await framesIn(m, "ping")).toBe(3);
    expect(await framesIn(m, "sendMessage")).toBe(1);
    m.frameIn("ping");
    m.frameIn("malformed");
    expect(await framesIn(m, "ping")).toBe(4);
    expect(await framesIn(m, "malformed")).toBe(1);
    expect(await framesIn(m, "sendMessage")).toBe(1);
  });
});
