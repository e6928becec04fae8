// Behind a real HAProxy (Debian's) the server still sees each client's own address, in both modes: the PROXY
// protocol v2 header (send-proxy-v2, --proxy-protocol on) and X-Forwarded-For (option forwardfor) from a
// --trusted-proxies peer; per-address limits therefore keep meaning per client. And two nodes sharing one
// Redis enforce one registration budget.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { startHaproxy, startRedis, type Haproxy, type Redis } from "../../scripts/services.ts";
import { startServer, type TestServer } from "../src/testing.ts";
import { errorCode } from "./helpers.ts";
import { uniqueName, WireClient } from "./wire-client.ts";

const PASSWORD = "correct horse battery";

/** Opens up to `n` sockets from `localAddress`; returns how many opened and how many got 503. */
const flood = async (url: string, localAddress: string, n: number, keep: WireClient[]) => {
  let refused = 0;
  for (let i = 0; i < n; i++) {
    try {
      keep.push(await WireClient.open(url, { localAddress }));
    } catch (e) {
      if (!String(e).includes("503")) throw e;
      refused++;
    }
  }
  return { opened: n - refused, refused };
};

for (const mode of ["proxy-protocol", "x-forwarded-for"] as const) {
  describe(`behind HAProxy (${mode})`, () => {
    let server: TestServer;
    let haproxy: Haproxy;
    let wsUrl: string;
    beforeAll(async () => {
      server = await startServer({
        trustedProxies: ["127.0.0.1"],
        proxyProtocol: mode === "proxy-protocol" ? "on" : "off",
        maxUnauthenticatedPerIp: 3,
        logLevel: "info",
      });
      // TCP health checks: this test is about addresses, not readiness.
      haproxy = await startHaproxy({ backends: [{ name: "n1", port: server.port }], sendProxy: mode === "proxy-protocol", healthPath: "" });
      wsUrl = `ws://127.0.0.1:${haproxy.port}/ws`;
    }, 30_000);
    afterAll(async () => {
      await haproxy?.destroy();
      await server?.close();
    });

    it("per-address caps count each client, not the balancer", async () => {
      const keep: WireClient[] = [];
      try {
        // Without the client's address every socket would be 127.0.0.1 and the fourth from anyone refused.
        expect(await flood(wsUrl, "127.0.0.2", 5, keep)).toEqual({ opened: 3, refused: 2 });
        expect(await flood(wsUrl, "127.0.0.3", 3, keep)).toEqual({ opened: 3, refused: 0 });
        const user = keep.at(-1)!;
        // The log names the client, not the balancer.
        const lines: string[] = [];
        const write = process.stdout.write.bind(process.stdout);
        process.stdout.write = (chunk: string | Uint8Array, ...rest: never[]) => {
          lines.push(String(chunk));
          return write(chunk, ...rest);
        };
        try {
          await user.call({ case: "register", value: { username: uniqueName("proxied"), password: PASSWORD } }, "authOk");
        } finally {
          process.stdout.write = write;
        }
        const records = lines.flatMap((l) => {
          try {
            return [JSON.parse(l) as { msg?: string; ip?: string }];
          } catch {
            return [];
          }
        });
        const registered = records.find((l) => l.msg === "account registered");
        expect(registered?.ip).toBe("127.0.0.3");
        // Authenticated, it no longer counts: 127.0.0.3 has a slot again.
        expect(await flood(wsUrl, "127.0.0.3", 1, keep)).toEqual({ opened: 1, refused: 0 });
      } finally {
        for (const c of keep) c.close();
      }
    });

    if (mode === "proxy-protocol") {
      it("a connection that does not start with a PROXY header from a trusted proxy is dropped", async () => {
        const dropped = (localAddress: string, payload: string) =>
          new Promise<string>((resolve) => {
            const socket = connect({ port: server.port, host: "127.0.0.1", localAddress }, () => socket.write(payload));
            let data = "";
            socket.on("data", (d) => (data += d.toString()));
            socket.on("close", () => resolve(data === "" ? "closed" : data));
            socket.on("error", () => undefined);
          });
        const get = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        // Straight from an untrusted client, even with a header of its own choosing.
        expect(await dropped("127.0.0.2", `PROXY TCP4 192.0.2.1 127.0.0.1 1111 80\r\n${get}`)).toBe("closed");
        // From the trusted address but without a header.
        expect(await dropped("127.0.0.1", get)).toBe("closed");
        // With a v1 header from the trusted address, the request goes through.
        expect(await dropped("127.0.0.1", `PROXY TCP4 192.0.2.1 127.0.0.1 1111 80\r\n${get}`)).toContain("HTTP/1.1 200");
      });
    } else {
      it("X-Forwarded-For sent by the client itself does not change its address", async () => {
        const keep: WireClient[] = [];
        try {
          // HAProxy appends the real address; whatever the client put to the left is ignored.
          for (let i = 0; i < 5; i++) {
            try {
              keep.push(await WireClient.open(wsUrl, { localAddress: "127.0.0.4", headers: { "x-forwarded-for": `198.51.100.${i}` } }));
            } catch (e) {
              expect(String(e)).toContain("503");
            }
          }
          expect(keep.length).toBe(3);
        } finally {
          for (const c of keep) c.close();
        }
      });
    }
  });
}

describe("two nodes sharing one Redis", () => {
  let redis: Redis;
  let nodes: TestServer[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    nodes = [await startServer({ redisUrl: redis.url, registerPerMin: 4 }), await startServer({ redisUrl: redis.url, registerPerMin: 4 })];
  }, 30_000);
  afterAll(async () => {
    for (const n of nodes) await n.close();
    await redis?.destroy();
  });

  it("enforce one registration budget, not one each", async () => {
    const outcomes: Array<string> = [];
    for (let i = 0; i < 8; i++) {
      const c = await WireClient.open(nodes[i % 2]!.wsUrl, { localAddress: `127.0.3.${i + 1}` });
      const reply = await c.request({ case: "register", value: { username: uniqueName("cluster"), password: PASSWORD } }, 10_000);
      outcomes.push(
        reply.kind.case === "authOk" ? "ok" : errorCode(reply) === ErrorCode.RATE_LIMITED ? "limited" : String(errorCode(reply)),
      );
      c.close();
    }
    expect(outcomes).toEqual(["ok", "ok", "ok", "ok", "limited", "limited", "limited", "limited"]);
  });
});
