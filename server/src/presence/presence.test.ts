// The in-memory Presence layer against the contract every layer must keep.
import { presenceContract } from "./contract.ts";
import { PresenceTable } from "./presence.ts";

presenceContract("in-memory presence", async () => {
  const table = new PresenceTable();
  return {
    a: table.node("a"),
    b: table.node("b"),
    killB: async () => table.kill("b"),
    close: async () => {},
  };
});
