// Splitting a cluster bench run by node: the generator connects to each node directly, so it knows which node
// made each delivery. Here: which node a connection goes to, how many of a window's deliveries each node owes,
// and per-node CPU and memory arithmetic. Pure, so the attribution is tested without servers.

/** Idle connection `index` (numbered from 0) goes to node `index % nodes`. */
export const nodeOf = (index: number, nodes: number): number => index % nodes;

/** Member `m` (0-based in its room) of room `room` goes to node `(room + m) % nodes`: each room's members
 * alternate over the nodes, and the room's first member (a sender: the first --senders members of each
 * room send) starts one node further in each room, so with an odd number of senders per room and an even
 * number of rooms each node carries as many senders (stores, acks) as the other. */
export const memberNodeOf = (room: number, m: number, nodes: number): number => (room + m) % nodes;

/** How many of `count` connections, numbered 0..count-1 and spread with nodeOf, go to `node`. */
export const shareOf = (count: number, nodes: number, node: number): number => Math.floor(count / nodes) + (node < count % nodes ? 1 : 0);

/** membersOn[room][node]: how many of each room's members memberNodeOf puts on each node. */
export const membersByNode = (rooms: number, membersPerRoom: number, nodes: number): number[][] =>
  Array.from({ length: rooms }, (_, room) => {
    const on = new Array<number>(nodes).fill(0);
    for (let m = 0; m < membersPerRoom; m++) on[memberNodeOf(room, m, nodes)]!++;
    return on;
  });

/** The deliveries each node owes for a window: over the rooms, messages sent to the room × its members on the node. */
export const expectedByNode = (sentByRoom: ReadonlyArray<number>, membersOn: ReadonlyArray<ReadonlyArray<number>>): number[] => {
  const nodes = membersOn[0]?.length ?? 0;
  const out = new Array<number>(nodes).fill(0);
  sentByRoom.forEach((sent, room) => {
    for (let n = 0; n < nodes; n++) out[n]! += sent * (membersOn[room]?.[n] ?? 0);
  });
  return out;
};

/** CPU microseconds per item (a delivery, a message); NaN when there was none. */
export const microsPer = (cpuSeconds: number, items: number): number => (items > 0 ? (cpuSeconds * 1e6) / items : Number.NaN);

/** RSS bytes per idle connection of one node: its own RSS growth over the connections it was given. */
export const rssPerConnection = (rssBefore: number, rssAfter: number, connections: number): number =>
  connections > 0 ? (rssAfter - rssBefore) / connections : Number.NaN;
