// Test fixture for durability.test.ts: appends to one room and one DM conversation forever, printing a line
// for every append the store acknowledged, until the process is killed. Usage: crash-writer.ts <db file>
import { Effect } from "effect";
import { makeSqliteStore } from "./sqlite.ts";

const file = process.argv[2];
if (file === undefined) throw new Error("usage: crash-writer.ts <db file>");

const program = Effect.scoped(
  Effect.gen(function* () {
    const { store } = yield* makeSqliteStore({ file });
    yield* store.createRoom({ code: "CRASH2", name: "crash", persistent: true, createdBy: "t", createdAtMs: 0 });
    let next = 0;
    // Eight writers at a time, so acks come from group commits as in the server.
    yield* Effect.forEach(
      Array.from({ length: 8 }, (_, w) => w),
      (writer) =>
        Effect.forever(
          Effect.gen(function* () {
            const id = `w${writer}-${next++}`;
            if (writer % 2 === 0) {
              const { message } = yield* store.appendMessage({
                roomCode: "CRASH2",
                sender: "ann",
                clientMessageId: id,
                text: id,
                sentAtMs: 1,
              });
              // Pipes are written synchronously on Linux: once this returns the line is the parent's to read.
              process.stdout.write(`room ${message.seq} ${id}\n`);
            } else {
              const { message } = yield* store.appendDirect({
                sender: "ann",
                recipient: "bob",
                clientMessageId: id,
                text: id,
                sentAtMs: 1,
              });
              process.stdout.write(`direct ${message.seq} ${id}\n`);
            }
          }),
        ),
      { concurrency: "unbounded", discard: true },
    );
  }),
);

Effect.runPromise(program).catch((error) => {
  console.error(error);
  process.exit(1);
});
