// The one place that imports the WebSocket server. One HTTP server serves the WebSocket endpoint /ws (token
// and Origin checked before the upgrade), the web client at / and /chat.js, /livez, /readyz, /healthz and /metrics. Each
// accepted socket runs as a connection program in this server's scope; closing the scope tells every client
// to reconnect (1001) and waits briefly for them to go.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { Cause, Context, Deferred, Effect, Exit, FiberSet, Layer } from "effect";
import { WebSocketServer } from "ws";
import { Accounts } from "../auth/accounts.ts";
import { ServerConfig } from "../config.ts";
import { Hub } from "../hub/hub.ts";
import { Metrics } from "../metrics.ts";
import { type ConnectionHandle, runConnection } from "../session/connection.ts";
import { type Authenticated, Handlers, MAX_FRAME_BYTES } from "../session/handlers.ts";
import { StorageHealth } from "../store/store.ts";

/** Where the server listens, once it does. */
export class Listening extends Context.Service<Listening, { readonly port: number; readonly url: string }>()("protochat/transport/Listening") {}

const tokenFrom = (req: IncomingMessage, url: URL): string | undefined => {
  const header = req.headers.authorization;
  if (header?.startsWith("Bearer ")) return header.slice(7).trim();
  return url.searchParams.get("token") ?? undefined;
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
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
};

export const layer = Layer.effect(
  Listening,
  Effect.gen(function* () {
    const config = yield* ServerConfig;
    const hub = yield* Hub;
    const accounts = yield* Accounts;
    const metrics = yield* Metrics;
    const storage = yield* StorageHealth;
    const runConn = yield* FiberSet.makeRuntime<ServerConfig | Hub | Handlers | Metrics>();
    const context = yield* Effect.context<never>();
    const runPromise = Effect.runPromiseWith(context);

    const handles = new Set<ConnectionHandle>();
    let open = 0;
    let unauthenticated = 0;
    // Upgrades whose token is still being checked: counted against the connection cap so a burst of token
    // upgrades cannot overshoot it.
    let verifying = 0;
    let nextId = 1;
    let shuttingDown = false;
    const allGone = yield* Deferred.make<void>();

    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });

    const accept = (req: IncomingMessage, socket: Duplex, head: Buffer, preauth: Authenticated | undefined) => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        open++;
        let counted = !preauth;
        if (counted) unauthenticated++;
        metrics.connectionsTotal.inc();
        const uncount = () => {
          if (counted) unauthenticated--;
          counted = false;
        };
        const fiber = runConn(
          runConnection(
            { id: nextId++, ws, ip: req.socket.remoteAddress ?? "unknown", preauth, onAuthenticated: uncount },
            (handle) => {
              handles.add(handle);
              return () => handles.delete(handle);
            },
          ),
        );
        fiber.addObserver(() => {
          open--;
          uncount();
          if (shuttingDown && open === 0) Deferred.doneUnsafe(allGone, Exit.void);
        });
      });
    };

    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on("error", () => socket.destroy());
      const url = new URL(req.url ?? "/", "http://localhost");
      const reject = (status: number, text: string) => {
        metrics.upgradesRejected.inc({ status: String(status) });
        refuse(socket, status, text);
      };
      if (url.pathname !== "/ws") return reject(404, "Not Found");
      if (shuttingDown) return reject(503, "Service Unavailable");
      if (!originAllowed(req.headers.origin, req.headers.host, config.allowedOrigins)) return reject(403, "Forbidden");
      if (open + verifying >= config.maxConnections) return reject(503, "Service Unavailable");
      const token = tokenFrom(req, url);
      if (token === undefined) {
        if (unauthenticated >= config.maxUnauthenticated) return reject(503, "Service Unavailable");
        return accept(req, socket, head, undefined);
      }
      verifying++;
      runPromise(
        accounts.authenticateToken(token).pipe(
          Effect.map((auth) => () => accept(req, socket, head, auth)),
          // Only a bad token is 401 (the client must log in again); storage trouble is 503 (try again later).
          Effect.catchCause((cause) => {
            const failure = Cause.findErrorOption(cause);
            const badToken = failure._tag === "Some" && failure.value._tag === "Unauthenticated";
            return Effect.succeed(() => (badToken ? reject(401, "Unauthorized") : reject(503, "Service Unavailable")));
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

    const clientDir = config.clientDir;
    const serveFile = async (res: ServerResponse, file: string, type: string, extraHeaders: Record<string, string>) => {
      try {
        const body = await readFile(join(clientDir, file));
        res.writeHead(200, { "Content-Type": type, "Content-Length": body.length, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", ...extraHeaders });
        res.end(body);
      } catch {
        res.writeHead(404, { "Content-Type": "text/plain" }).end(`${file} is not built: run npm run build:client\n`);
      }
    };

    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { Allow: "GET, HEAD" }).end();
        return;
      }
      switch (url.pathname) {
        case "/":
        case "/index.html":
          void serveFile(res, "index.html", "text/html; charset=utf-8", {
            "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            "Referrer-Policy": "no-referrer",
          });
          return;
        case "/chat.js":
          // Served cross-origin on purpose: any page may drop the component in with a module script tag.
          void serveFile(res, "dist/chat.js", "text/javascript; charset=utf-8", { "Access-Control-Allow-Origin": "*" });
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
          res.writeHead(body.status === "ok" ? 200 : 503, { "Content-Type": "application/json", "Cache-Control": "no-store" }).end(JSON.stringify(body));
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
        default:
          res.writeHead(404, { "Content-Type": "text/plain" }).end("Not Found\n");
      }
    };

    const http = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, maxHeaderSize: 16 * 1024 }, onRequest);
    http.keepAliveTimeout = 5_000;
    http.on("upgrade", onUpgrade);
    http.on("clientError", (_err, socket) => socket.destroy());

    const port = yield* Effect.callback<number, Error>((resume) => {
      http.once("error", (e) => resume(Effect.fail(e)));
      http.listen(config.port, config.host, () => {
        const address = http.address();
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
