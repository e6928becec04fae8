// The one place that imports the WebSocket server. One HTTP server serves the WebSocket endpoint /ws (token,
// Origin, Host and per-address caps checked before the upgrade, with the client's own address behind trusted
// proxies), the web client at / and /chat.js (compressed, with ETags; the page names /chat.<hash>.js, cached
// for a year), /livez, /readyz, /healthz, /metrics, and the file endpoints (files/http.ts). Each accepted socket runs
// as a connection program in this server's scope; closing the scope tells every client to reconnect (1001) and
// waits briefly for them to go.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTcpServer, isIP } from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { Cause, Context, Deferred, Effect, Exit, FiberSet, Layer } from "effect";
import { WebSocketServer } from "ws";
import { Accounts } from "../auth/accounts.ts";
import { makeFileRoutes } from "../files/http.ts";
import { addressKey } from "../auth/throttle.ts";
import { ServerConfig } from "../config.ts";
import { Hub } from "../hub/hub.ts";
import { Metrics } from "../metrics.ts";
import { type ConnectionHandle, runConnection } from "../session/connection.ts";
import { type Authenticated, Handlers, MAX_FRAME_BYTES } from "../session/handlers.ts";
import { StorageHealth } from "../store/store.ts";
import { acceptProxied, clientAddress, peerAddress, TrustedProxies } from "./client-address.ts";
import { type Asset, choose, StaticFile } from "./static-assets.ts";

function destroySocket(this: Duplex): void {
  this.destroy();
}

/** Where the server listens, once it does. */
export class Listening extends Context.Service<Listening, { readonly port: number; readonly url: string }>()(
  "protochat/transport/Listening",
) {}

/**
 * The token an upgrade carries: `Authorization: Bearer <token>` (the scheme matched case-insensitively, RFC
 * 7235) or `?token=`. "invalid" for a Bearer header or a token parameter that is present but empty: those get
 * 401 rather than an unauthenticated connection. Other schemes are not ours (e.g. a proxy's Basic auth passed
 * through) and are ignored.
 */
export const tokenFrom = (authorization: string | undefined, url: URL): string | "invalid" | undefined => {
  const bearer = authorization === undefined ? null : /^bearer(?:[ \t]+(.*))?$/i.exec(authorization.trim());
  if (bearer) {
    const token = bearer[1]?.trim() ?? "";
    return token === "" ? "invalid" : token;
  }
  const param = url.searchParams.get("token");
  if (param === null) return undefined;
  return param.trim() === "" ? "invalid" : param.trim();
};

/**
 * Whether a browser may reach this server through `host` (its Host header): DNS rebinding points an attacker's
 * name at this server, so the page's Origin and the Host are both the attacker's and look same-origin. IP
 * literals and localhost names cannot be rebound; other names must be listed in `allowedHosts` (or be the
 * host of an allowed origin); `*` allows any.
 */
export const hostAllowed = (
  host: string | undefined,
  allowedHosts: ReadonlyArray<string>,
  allowedOrigins: ReadonlyArray<string>,
): boolean => {
  if (host === undefined) return false;
  if (allowedHosts.includes("*")) return true;
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (isIP(hostname.replace(/^\[|\]$/g, "")) !== 0) return true;
  if (hostname === "localhost" || hostname.endsWith(".localhost")) return true;
  const listed = (entry: string) => entry.toLowerCase() === hostname || entry.toLowerCase() === host.toLowerCase();
  if (allowedHosts.some(listed)) return true;
  return allowedOrigins.some((origin) => {
    try {
      return new URL(origin).hostname.toLowerCase() === hostname;
    } catch {
      return false;
    }
  });
};

/** An Origin is allowed when absent (non-browser clients), same-origin, or on the allowlist. */
export const originAllowed = (origin: string | undefined, host: string | undefined, allowed: ReadonlyArray<string>): boolean => {
  if (origin === undefined) return true;
  if (allowed.includes("*") || allowed.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
};

const refuse = (socket: Duplex, status: number, text: string) => {
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`,
  );
};

export const layer = Layer.effect(
  Listening,
  Effect.gen(function* () {
    const config = yield* ServerConfig;
    const hub = yield* Hub;
    const accounts = yield* Accounts;
    const metrics = yield* Metrics;
    const storage = yield* StorageHealth;
    const files = yield* makeFileRoutes;
    const runConn = yield* FiberSet.makeRuntime<ServerConfig | Hub | Handlers | Metrics>();
    const context = yield* Effect.context<never>();
    const runPromise = Effect.runPromiseWith(context);

    const handles = new Set<ConnectionHandle>();
    const trusted = new TrustedProxies(config.trustedProxies);
    let open = 0;
    let unauthenticated = 0;
    // Unauthenticated connections per client address, so one host cannot hold the whole unauthenticated cap.
    const unauthenticatedByIp = new Map<string, number>();
    // Upgrades whose token is still being checked: counted against the connection cap so a burst of token
    // upgrades cannot overshoot it.
    let verifying = 0;
    let nextId = 1;
    let shuttingDown = false;
    const allGone = yield* Deferred.make<void>();

    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });

    const accept = (req: IncomingMessage, socket: Duplex, head: Buffer, ip: string, preauth: Authenticated | undefined) => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        open++;
        let counted = !preauth;
        const ipKey = addressKey(ip);
        if (counted) {
          unauthenticated++;
          unauthenticatedByIp.set(ipKey, (unauthenticatedByIp.get(ipKey) ?? 0) + 1);
        }
        metrics.connectionsTotal.inc();
        const uncount = () => {
          if (counted) {
            unauthenticated--;
            const left = (unauthenticatedByIp.get(ipKey) ?? 1) - 1;
            if (left > 0) unauthenticatedByIp.set(ipKey, left);
            else unauthenticatedByIp.delete(ipKey);
          }
          counted = false;
        };
        const fiber = runConn(
          runConnection({ id: nextId++, ws, ip, preauth, onAuthenticated: uncount }, (handle) => {
            handles.add(handle);
            return () => handles.delete(handle);
          }),
        );
        fiber.addObserver(() => {
          open--;
          uncount();
          if (shuttingDown && open === 0) Deferred.doneUnsafe(allGone, Exit.void);
        });
      });
    };

    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Not a closure: this listener lives as long as the socket, and a closure here would keep this
      // function's scope (the upgrade request, its headers and `head`) alive for the connection's life.
      socket.on("error", destroySocket);
      const url = new URL(req.url ?? "/", "http://localhost");
      const reject = (status: number, text: string) => {
        metrics.upgradesRejected.inc({ status: String(status) });
        refuse(socket, status, text);
      };
      if (url.pathname !== "/ws") return reject(404, "Not Found");
      if (shuttingDown) return reject(503, "Service Unavailable");
      const origin = req.headers.origin;
      if (!originAllowed(origin, req.headers.host, config.allowedOrigins)) return reject(403, "Forbidden");
      // A browser request not from an allow-listed origin must come through a host name that cannot be rebound.
      const listedOrigin = origin !== undefined && (config.allowedOrigins.includes(origin) || config.allowedOrigins.includes("*"));
      if (origin !== undefined && !listedOrigin && !hostAllowed(req.headers.host, config.allowedHosts, config.allowedOrigins)) {
        return reject(403, "Forbidden");
      }
      if (open + verifying >= config.maxConnections) return reject(503, "Service Unavailable");
      const ip = clientAddress(peerAddress(req.socket), req.headers["x-forwarded-for"], trusted);
      // Counted per IPv4 address or per IPv6 /64, like the throttles.
      const ipKey = addressKey(ip);
      const token = tokenFrom(req.headers.authorization, url);
      if (token === "invalid") return reject(401, "Unauthorized");
      if (token === undefined) {
        if (unauthenticated >= config.maxUnauthenticated) return reject(503, "Service Unavailable");
        if ((unauthenticatedByIp.get(ipKey) ?? 0) >= config.maxUnauthenticatedPerIp) return reject(503, "Service Unavailable");
        return accept(req, socket, head, ip, undefined);
      }
      verifying++;
      void runPromise(
        accounts.authenticateToken(token).pipe(
          Effect.map((auth) => () => accept(req, socket, head, ip, auth)),
          // Only a token the server knows to be bad is a 401 (the client must log in again); storage that
          // cannot answer is a 503 (retry), or a client would throw away a good session.
          Effect.catchCause((cause) => {
            const failure = Cause.findErrorOption(cause);
            const unauthenticated = failure._tag === "Some" && failure.value._tag === "Unauthenticated";
            return Effect.succeed(() => (unauthenticated ? reject(401, "Unauthorized") : reject(503, "Service Unavailable")));
          }),
        ),
      ).then((next) => {
        verifying--;
        // Shutdown may have begun while the token was checked: its close loop has already run, so this
        // connection would never be told to go.
        if (shuttingDown) return reject(503, "Service Unavailable");
        next();
      });
    };

    // The web client: compressed (br, gzip), validated by ETag, and the bundle under an immutable hashed name
    // that the page names (see docs/protocol.md "HTTP endpoints").
    const bundle = new StaticFile(join(config.clientDir, "dist/chat.js"));
    const page = new StaticFile(join(config.clientDir, "index.html"), (bytes, hash) =>
      hash === "" ? bytes : Buffer.from(bytes.toString("utf8").replaceAll('src="/chat.js"', `src="/chat.${hash}.js"`)),
    );
    const serveAsset = async (
      req: IncomingMessage,
      res: ServerResponse,
      load: () => Promise<Asset | undefined>,
      file: string,
      type: string,
      cacheControl: (asset: Asset) => string,
      extraHeaders: Record<string, string>,
    ) => {
      const asset = await load();
      if (!asset) {
        res.writeHead(404, { "Content-Type": "text/plain" }).end(`${file} is not built: run npm run build:client\n`);
        return;
      }
      const { variant: v, notModified } = choose(asset, req.headers["accept-encoding"], req.headers["if-none-match"]);
      const headers = {
        "Content-Type": type,
        "Cache-Control": cacheControl(asset),
        ETag: v.etag,
        Vary: "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        ...extraHeaders,
      };
      if (notModified) {
        res.writeHead(304, headers).end();
        return;
      }
      res.writeHead(200, {
        ...headers,
        "Content-Length": v.body.length,
        ...(v.coding === "identity" ? {} : { "Content-Encoding": v.coding }),
      });
      res.end(req.method === "HEAD" ? undefined : v.body);
    };
    const revalidate = () => "no-cache";
    const pageHeaders = {
      "Content-Security-Policy":
        "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      "Referrer-Policy": "no-referrer",
    };
    // Served cross-origin on purpose: any page may drop the component in with a module script tag.
    const bundleHeaders = { "Access-Control-Allow-Origin": "*" };
    const JS = "text/javascript; charset=utf-8";
    const loadPage = async () => page.get((await bundle.get())?.hash ?? "");

    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (url.pathname.startsWith("/v1/") && files.handle(req, res, url)) return;
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { Allow: "GET, HEAD" }).end();
        return;
      }
      switch (url.pathname) {
        case "/":
        case "/index.html":
          void serveAsset(req, res, loadPage, "index.html", "text/html; charset=utf-8", revalidate, pageHeaders);
          return;
        case "/chat.js":
          // The stable name for embedders: revalidated on every use (a 304 while unchanged).
          void serveAsset(req, res, () => bundle.get(), "dist/chat.js", JS, revalidate, bundleHeaders);
          return;
        // Liveness: the process is up and serving HTTP (never restart it for storage trouble: that cannot help).
        case "/livez":
          res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" }).end(JSON.stringify({ status: "ok" }));
          return;
        // Readiness (send traffic here?): 503 while shutting down or while storage cannot commit, with the
        // reason; back to 200 by itself once storage commits again. /healthz is the same answer plus the
        // connection count, kept for existing checks.
        case "/readyz":
        case "/healthz": {
          const stored = storage.status();
          const body: Record<string, unknown> = shuttingDown
            ? { status: "shutting-down" }
            : stored._tag === "Unavailable"
              ? { status: "storage-unavailable", reason: stored.reason, since: new Date(stored.sinceMs).toISOString() }
              : { status: "ok" };
          if (url.pathname === "/healthz") body.connections = open;
          res
            .writeHead(body.status === "ok" ? 200 : 503, { "Content-Type": "application/json", "Cache-Control": "no-store" })
            .end(JSON.stringify(body));
          return;
        }
        case "/metrics":
          metrics.connections.set({ state: "open" }, open);
          metrics.connections.set({ state: "unauthenticated" }, unauthenticated);
          metrics.registry.metrics().then(
            (text) => res.writeHead(200, { "Content-Type": metrics.registry.contentType }).end(text),
            () => res.writeHead(500).end(),
          );
          return;
        default: {
          // /chat.<hash>.js, the name the page uses: cached for a year when the hash is the current bundle's. An
          // older hash (a page loaded before a deploy, or a node of another version behind the same balancer)
          // gets the current bundle, revalidated, never cached under a name that does not match it.
          const hashed = /^\/chat\.([0-9a-f]{16})\.js$/.exec(url.pathname);
          if (hashed) {
            const immutable = (asset: Asset) => (asset.hash === hashed[1] ? "public, max-age=31536000, immutable" : "no-cache");
            void serveAsset(req, res, () => bundle.get(), "dist/chat.js", JS, immutable, bundleHeaders);
            return;
          }
          res.writeHead(404, { "Content-Type": "text/plain" }).end("Not Found\n");
        }
      }
    };

    // requestTimeout bounds a whole request, an upload's body included (a stalled upload ends sooner: --upload-idle-ms).
    const http = createServer({ headersTimeout: 10_000, requestTimeout: 600_000, maxHeaderSize: 16 * 1024 }, onRequest);
    http.keepAliveTimeout = 5_000;
    http.on("upgrade", onUpgrade);
    http.on("clientError", (_err, socket) => socket.destroy());

    // With --proxy-protocol on, TCP is accepted here first and handed to the HTTP server once its PROXY header
    // has been read; the HTTP server itself then never listens.
    const listener = config.proxyProtocol === "on" ? createTcpServer((socket) => acceptProxied(socket, http, trusted)) : http;
    if (listener !== http) yield* Effect.addFinalizer(() => Effect.sync(() => listener.close()));
    const port = yield* Effect.callback<number, Error>((resume) => {
      listener.once("error", (e) => resume(Effect.fail(e)));
      listener.listen(config.port, config.host, () => {
        const address = listener.address();
        resume(Effect.succeed(typeof address === "object" && address ? address.port : config.port));
      });
    }).pipe(Effect.orDie);
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    const url = `http://${host}:${port}`;
    yield* Effect.logInfo("listening", { port, url, ws: `ws://${host}:${port}/ws`, dataDir: config.dataDir });

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        // While clients are told to go, the port stays open: upgrades and /healthz answer 503 (what
        // reconnecting clients and load balancers are told in docs/protocol.md), not a refused connection.
        shuttingDown = true;
        yield* Effect.logInfo("shutting down", { connections: open });
        if (open === 0) Deferred.doneUnsafe(allGone, Exit.void);
        for (const handle of [...handles]) handle.shutdown();
        yield* Deferred.await(allGone).pipe(Effect.timeout(config.shutdownGraceMs), Effect.ignore);
        http.close();
        http.closeAllConnections();
        hub.shutdown();
      }),
    );

    return Listening.of({ port, url });
  }),
);
