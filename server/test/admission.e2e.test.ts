// Admission over real sockets from distinct client addresses (127.0.0.2, .3 ... are all loopback on Linux):
// an attacker failing logins cannot lock the real user out, one host cannot hold every unauthenticated slot,
// a burst beyond the hash budget is refused quickly, registrations from many addresses stay bounded, the
// Host header and the Authorization header are checked at the upgrade, and X-Forwarded-For counts only from
// trusted proxies.
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { startServer, type TestServer } from "../src/testing.ts";
import { errorCode } from "./helpers.ts";
import { uniqueName, WireClient } from "./wire-client.ts";

const PASSWORD = "correct horse battery";

const at = (localAddress: string, headers: Record<string, string> = {}) => ({ localAddress, headers });

const login = async (server: TestServer, localAddress: string, username: string, password: string) => {
  const client = await WireClient.open(server.wsUrl, at(localAddress));
  const reply = await client.request({ case: "login", value: { username, password } }, 10_000);
  client.close();
  return reply;
};

/** The status of an upgrade refused before the WebSocket exists, or 101. */
const upgradeStatus = (url: string, headers: Record<string, string>, localAddress?: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = request(url.replace(/^ws/, "http"), {
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        ...headers,
      },
      ...(localAddress ? { localAddress } : {}),
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });

describe("login throttling cannot lock the real user out", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ loginFailuresPerAccountIp: 3, loginFailuresPerAccount: 4 });
  });
  afterAll(() => server.close());

  it("the real user logs in from her address while an attacker keeps failing from others", async () => {
    const username = uniqueName("victim");
    const first = await WireClient.open(server.wsUrl, at("127.0.0.2"));
    const auth = await first.call({ case: "register", value: { username, password: PASSWORD } }, "authOk");
    first.close();

    // The attacker fails from 127.0.0.3 until refused, then moves to 127.0.0.4 and .5 and keeps going.
    const attackerCodes: Array<ErrorCode | undefined> = [];
    for (const address of ["127.0.0.3", "127.0.0.4", "127.0.0.5"]) {
      for (let i = 0; i < 4; i++) attackerCodes.push(errorCode(await login(server, address, username, `wrong password ${i}`)));
    }
    expect(attackerCodes.filter((c) => c === ErrorCode.UNAUTHENTICATED).length).toBeLessThanOrEqual(4);
    expect(attackerCodes.at(-1)).toBe(ErrorCode.RATE_LIMITED);
    // Even the right password from a new address is held back now...
    const fresh = await login(server, "127.0.0.6", username, PASSWORD);
    expect(errorCode(fresh)).toBe(ErrorCode.RATE_LIMITED);
    expect(fresh.kind.case === "error" && fresh.kind.value.retryAfterMs).toBeGreaterThan(0);

    // ...but the real user, from the address she used before, gets in, and her session token still works.
    const mine = await login(server, "127.0.0.2", username, PASSWORD);
    expect(mine.kind.case).toBe("authOk");
    const resumed = await WireClient.open(server.wsUrl, { token: auth.sessionToken, localAddress: "127.0.0.2" });
    expect((await resumed.push("authOk")).username).toBe(username);
    resumed.close();
    // The attacker is still refused after her success.
    expect(errorCode(await login(server, "127.0.0.3", username, "wrong password again"))).toBe(ErrorCode.RATE_LIMITED);
  });
});

describe("admission caps per client address", () => {
  it("one host holding its share of unauthenticated slots does not turn away a user on another address", async () => {
    const server = await startServer({ maxUnauthenticated: 10, maxUnauthenticatedPerIp: 4 });
    const flood: WireClient[] = [];
    try {
      let refused = 0;
      for (let i = 0; i < 12; i++) {
        try {
          flood.push(await WireClient.open(server.wsUrl, at("127.0.0.3")));
        } catch (e) {
          expect(String(e)).toContain("HTTP 503");
          refused++;
        }
      }
      expect([flood.length, refused]).toEqual([4, 8]);
      const user = await WireClient.open(server.wsUrl, at("127.0.0.2"));
      await user.call({ case: "register", value: { username: uniqueName(), password: PASSWORD } }, "authOk");
      user.close();
    } finally {
      for (const c of flood) c.close();
      await server.close();
    }
  });

  it("a burst of registrations beyond the hash budget is answered RATE_LIMITED at once, not queued", async () => {
    const server = await startServer({ hashConcurrency: 1, hashQueue: 2, loginPerIpPerMin: 1000 });
    const clients: WireClient[] = [];
    try {
      for (let i = 0; i < 12; i++) clients.push(await WireClient.open(server.wsUrl, at(`127.0.1.${i + 1}`)));
      const started = performance.now();
      const replies = await Promise.all(
        clients.map(async (c, i) => {
          const reply = await c.request(
            { case: "register", value: { username: uniqueName("burst"), password: `${PASSWORD} ${i}` } },
            10_000,
          );
          return { reply, ms: performance.now() - started };
        }),
      );
      const limited = replies.filter((r) => errorCode(r.reply) === ErrorCode.RATE_LIMITED);
      const ok = replies.filter((r) => r.reply.kind.case === "authOk");
      expect(ok.length).toBeGreaterThanOrEqual(3);
      expect(limited.length).toBeGreaterThanOrEqual(6);
      expect(ok.length + limited.length).toBe(12);
      for (const r of limited) expect(r.reply.kind.case === "error" && r.reply.kind.value.retryAfterMs).toBeGreaterThan(0);
      // The refusals do not wait for hashing: they come before the last admitted hash is done.
      expect(Math.max(...limited.map((r) => r.ms))).toBeLessThan(Math.max(...ok.map((r) => r.ms)));
      console.log(
        `hash budget 1+2: ${ok.length} registered, ${limited.length} RATE_LIMITED within ${Math.max(...limited.map((r) => r.ms)).toFixed(0)} ms`,
      );
    } finally {
      for (const c of clients) c.close();
      await server.close();
    }
  });

  it("registrations from many addresses are bounded overall", async () => {
    const server = await startServer({ registerPerMin: 8, registerPerNetworkPerMin: 1000 });
    try {
      const codes: Array<string> = [];
      for (let i = 0; i < 24; i++) {
        const c = await WireClient.open(server.wsUrl, at(`127.0.2.${i + 1}`));
        const reply = await c.request({ case: "register", value: { username: uniqueName("many"), password: PASSWORD } }, 10_000);
        codes.push(reply.kind.case === "authOk" ? "ok" : String(errorCode(reply)));
        c.close();
      }
      expect(codes.filter((c) => c === "ok").length).toBe(8);
      expect(codes.slice(8)).toEqual(Array(16).fill(String(ErrorCode.RATE_LIMITED)));
    } finally {
      await server.close();
    }
  });
});

describe("the upgrade's headers", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ allowedHosts: ["chat.example"] });
  });
  afterAll(() => server.close());

  it("a DNS-rebinding request (Host and Origin both a foreign name) is refused; loopback, IP and listed hosts are not", async () => {
    const port = server.port;
    const evil = `evil.example:${port}`;
    expect(await upgradeStatus(server.wsUrl, { host: evil, origin: `http://${evil}` })).toBe(403);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `chat.example:${port}`, `app.localhost:${port}`]) {
      expect([host, await upgradeStatus(server.wsUrl, { host, origin: `http://${host}` })]).toEqual([host, 101]);
    }
    // Without Origin it is not a browser, so not a rebinding: any Host is accepted.
    expect(await upgradeStatus(server.wsUrl, { host: evil })).toBe(101);
  });

  it("an empty Bearer token gets 401, not an unauthenticated connection; the scheme is case-insensitive", async () => {
    for (const authorization of ["Bearer", "Bearer   ", "bearer"]) {
      expect([authorization, await upgradeStatus(server.wsUrl, { authorization })]).toEqual([authorization, 401]);
    }
    expect(await upgradeStatus(`${server.wsUrl}?token=`, {})).toBe(401);
    // Another scheme is not ours (a proxy's Basic auth passed through): the connection authenticates in-band.
    expect(await upgradeStatus(server.wsUrl, { authorization: "Basic dXNlcjpwYXNz" })).toBe(101);
    const owner = await WireClient.open(server.wsUrl);
    const auth = await owner.call({ case: "register", value: { username: uniqueName(), password: PASSWORD } }, "authOk");
    for (const scheme of ["bearer", "BEARER", "Bearer"]) {
      const c = await WireClient.open(server.wsUrl, { headers: { authorization: `${scheme} ${auth.sessionToken}` } });
      expect((await c.push("authOk")).username).toBe(auth.username);
      c.close();
    }
    owner.close();
  });
});

describe("X-Forwarded-For", () => {
  it("counts per forwarded client only when the peer is a trusted proxy", async () => {
    const server = await startServer({ trustedProxies: ["127.0.0.1/32"], maxUnauthenticatedPerIp: 2 });
    const open: WireClient[] = [];
    const tryOpen = async (localAddress: string, xff: string) => {
      try {
        open.push(await WireClient.open(server.wsUrl, at(localAddress, { "x-forwarded-for": xff })));
        return "open";
      } catch (e) {
        return String(e).includes("503") ? "503" : String(e);
      }
    };
    try {
      // Through the trusted proxy (127.0.0.1): the right-most untrusted hop is the client.
      expect(await tryOpen("127.0.0.1", "198.51.100.1")).toBe("open");
      expect(await tryOpen("127.0.0.1", "203.0.113.250, 198.51.100.1")).toBe("open");
      expect(await tryOpen("127.0.0.1", "198.51.100.1")).toBe("503");
      expect(await tryOpen("127.0.0.1", "198.51.100.2")).toBe("open");
      // IPv6 clients count by their /64: rotating addresses inside it does not get past the cap.
      expect(await tryOpen("127.0.0.1", "2001:db8:1:2::1")).toBe("open");
      expect(await tryOpen("127.0.0.1", "2001:db8:1:2::2")).toBe("open");
      expect(await tryOpen("127.0.0.1", "2001:db8:1:2:ffff::3")).toBe("503");
      expect(await tryOpen("127.0.0.1", "2001:db8:1:3::1")).toBe("open");
      // From an untrusted peer the header is ignored: spoofing new addresses does not get past the cap.
      expect(await tryOpen("127.0.0.2", "192.0.2.1")).toBe("open");
      expect(await tryOpen("127.0.0.2", "192.0.2.2")).toBe("open");
      expect(await tryOpen("127.0.0.2", "192.0.2.3")).toBe("503");
    } finally {
      for (const c of open) c.close();
      await server.close();
    }
  });
});
