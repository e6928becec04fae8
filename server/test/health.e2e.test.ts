// The health endpoints a supervisor or load balancer polls: /livez (the process serves HTTP), /readyz (send
// traffic here: storage commits and the server is not shutting down) and /healthz (the same, with the count of
// open connections). Storage trouble is covered on a real full disk in disk-full.e2e.test.ts.
import { describe, expect, it } from "vitest";
import { startServer } from "../src/testing.ts";
import { sleep } from "./helpers.ts";
import { registered } from "./wire-client.ts";

const get = async (url: string, method = "GET") => {
  const res = await fetch(url, { method });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    cache: res.headers.get("cache-control"),
    body: text === "" ? undefined : JSON.parse(text),
  };
};

describe("health endpoints", () => {
  it("/livez, /readyz and /healthz answer 200 ok while serving; during the shutdown grace only /livez stays 200", async () => {
    const server = await startServer({ shutdownGraceMs: 800 });
    expect(await get(`${server.httpUrl}/livez`)).toEqual({
      status: 200,
      type: "application/json",
      cache: "no-store",
      body: { status: "ok" },
    });
    expect(await get(`${server.httpUrl}/readyz`)).toEqual({
      status: 200,
      type: "application/json",
      cache: "no-store",
      body: { status: "ok" },
    });
    expect((await get(`${server.httpUrl}/healthz`)).body).toEqual({ status: "ok", connections: 0 });
    expect((await get(`${server.httpUrl}/readyz`, "HEAD")).status).toBe(200);
    expect((await get(`${server.httpUrl}/readyz`, "POST")).status).toBe(405);

    // A client that does not read keeps the server in its grace period: readiness is withdrawn at once.
    const a = await registered(server.wsUrl);
    a.client.ws.pause();
    const closing = server.close();
    await sleep(100);
    expect(await get(`${server.httpUrl}/readyz`)).toMatchObject({ status: 503, body: { status: "shutting-down" } });
    expect(await get(`${server.httpUrl}/healthz`)).toMatchObject({ status: 503, body: { status: "shutting-down", connections: 1 } });
    expect(await get(`${server.httpUrl}/livez`)).toMatchObject({ status: 200, body: { status: "ok" } });
    await closing;
    a.client.ws.resume();
  });
});
