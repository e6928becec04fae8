// The floor for the benchmark: a naive room-broadcast server on raw `ws` with no protocol at all. A client
// joins the room named in its URL (/ws?room=NAME; no room = an idle connection), and every binary message it
// sends is broadcast, as the same bytes, to every member of its room, the sender included. No auth, no
// storage, no ordering guarantees beyond TCP's, no heartbeats: what is left is the cost of the fan-out itself.
//   node load/bench/raw-ws-server.ts --port 8081
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { type RawData, WebSocket, WebSocketServer } from "ws";

const { values } = parseArgs({ options: { port: { type: "string", default: "8081" }, host: { type: "string", default: "127.0.0.1" } } });

const rooms = new Map<string, Set<WebSocket>>();
let connections = 0;

const http = createServer((req, res) => {
  if (req.url === "/healthz") res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ status: "ok", connections }));
  else res.writeHead(404).end();
});
const wss = new WebSocketServer({ server: http, path: "/ws", perMessageDeflate: false, maxPayload: 65536, clientTracking: false });

wss.on("connection", (ws, req) => {
  connections++;
  const room = new URL(req.url ?? "/", "http://localhost").searchParams.get("room");
  let members: Set<WebSocket> | undefined;
  if (room) {
    members = rooms.get(room);
    if (!members) rooms.set(room, (members = new Set()));
    members.add(ws);
  }
  ws.on("message", (data: RawData, isBinary: boolean) => {
    if (!members) return;
    for (const m of members) m.send(data, { binary: isBinary });
  });
  ws.on("close", () => {
    connections--;
    members?.delete(ws);
  });
  ws.on("error", () => {});
});

http.listen(Number(values.port), values.host, () => process.stdout.write(`raw-ws listening on ${values.host}:${values.port}\n`));
const stop = () => {
  for (const set of rooms.values()) for (const ws of set) ws.terminate();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
