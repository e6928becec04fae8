// Socket.IO 4.8 room broadcast for the benchmark: websocket transport only, a client joins the room named in
// its handshake query (no room = an idle connection), and every "m" event is re-emitted to the whole room
// with io.to(room).emit (the sender included), the way a Socket.IO chat is usually written.
//   node load/bench/socketio-server.ts --port 8082
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { Server } from "socket.io";

const { values } = parseArgs({ options: { port: { type: "string", default: "8082" }, host: { type: "string", default: "127.0.0.1" } } });

const http = createServer((req, res) => {
  if (req.url === "/healthz")
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ status: "ok", connections: io.engine.clientsCount }));
  else if (!req.url?.startsWith("/socket.io/")) res.writeHead(404).end();
});
const io = new Server(http, { transports: ["websocket"], serveClient: false, perMessageDeflate: false, maxHttpBufferSize: 65536 });

io.on("connection", (socket) => {
  const room = socket.handshake.query.room;
  if (typeof room !== "string" || room === "") return;
  void socket.join(room);
  socket.on("m", (text: unknown) => {
    if (typeof text === "string") io.to(room).emit("m", text);
  });
});

http.listen(Number(values.port), values.host, () => process.stdout.write(`socket.io listening on ${values.host}:${values.port}\n`));
const stop = () => {
  void io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
