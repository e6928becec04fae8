// Steady chat traffic through SDK clients for the fault tests, and the verdict afterwards: every client
// message id that was acknowledged must be stored once, the room's seqs must be gap-free, and every member
// must finally hold every message, in order, once. The SDK reconnects, resumes and recovers by itself, as a
// real client does; this file only counts.
import { ChatClient, type ChatMessage } from "../../../client/src/sdk/index.ts";

export const PASSWORD = "correct horse battery";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let counter = 0;
export const uniqueName = (prefix: string) => `${prefix}${(Date.now() % 1e8).toString(36)}${(counter++).toString(36)}`;

/** Polls `cond` every 20 ms; true when it held within timeoutMs. */
export const waitFor = async (cond: () => boolean, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
};

/** An SDK client for the tests: quick reconnects (the balancer refuses while a node is down), patient requests. */
export const sdkClient = (url: string, reconnect = true): ChatClient =>
  new ChatClient({ url, reconnect: { initialMs: 100, maxMs: 1000, enabled: reconnect }, requestTimeoutMs: 30_000 });

interface Sent {
  readonly client: number;
  readonly sentAt: number;
  ackedAt?: number;
  seq?: bigint;
  error?: string;
}

interface Member {
  readonly client: ChatClient;
  readonly seqs: bigint[];
  /** When each seq arrived (Date.now()). */
  readonly arrivals: Map<bigint, number>;
  closes: number;
  /** Closes with 1001 (the server going away: a drain). */
  goingAway: number;
  auths: number;
  notRecovered: number;
}

export interface LoadFigures {
  readonly clients: number;
  readonly sent: number;
  readonly acked: number;
  /** Sends whose ack promise rejected (the SDK gave up: an error retrying cannot fix). */
  readonly rejected: number;
  /** Sends neither acked nor rejected when the drain ended. */
  readonly unsettled: number;
  readonly stored: number;
  /** Acknowledged client message ids missing from the room's history. */
  readonly ackedLost: number;
  /** Client message ids stored more than once. */
  readonly duplicates: number;
  /** Acks whose seq differs from the stored message's. */
  readonly ackSeqMismatch: number;
  /** Missing seqs between 1 and the highest stored. */
  readonly gaps: number;
  /** Messages some member does not hold at the end (members x stored - held). */
  readonly undelivered: number;
  /** Members that saw a seq twice or out of order. */
  readonly misordered: number;
  /** Members that got notRecovered (a replay beyond the server's recover limit). */
  readonly notRecovered: number;
  /** Clients not connected at the end. */
  readonly disconnected: number;
  /** Socket closes seen over all clients. */
  readonly closes: number;
  /** Clients that were cut at least once and authenticated again. */
  readonly reconnected: number;
  /** Clients that were told at least once that their node is going away (close 1001). */
  readonly toldGoingAway: number;
  /** Most messages acknowledged by the server within one second, a rough throughput. */
  readonly peakAcksPerSec: number;
}

/**
 * `clients` users in one persistent room, each sending every `intervalMs` (at most `maxInFlight` unacked
 * sends per client, so an outage does not pile up unbounded work), until stop().
 */
export class ChatLoad {
  readonly members: Member[] = [];
  readonly sent = new Map<string, Sent>();
  roomCode = "";
  private sending = false;
  private timers: Array<ReturnType<typeof setInterval>> = [];
  private readonly settles: Array<Promise<unknown>> = [];

  private readonly urls: ReadonlyArray<string>;
  private readonly o: { clients: number; intervalMs: number; maxInFlight?: number };

  constructor(urls: ReadonlyArray<string>, o: { clients: number; intervalMs: number; maxInFlight?: number }) {
    this.urls = urls;
    this.o = o;
  }

  /** Registers the clients (client k through urls[k mod n]), creates the room and joins everyone. */
  async setup(): Promise<void> {
    for (let k = 0; k < this.o.clients; k++) {
      const client = sdkClient(this.urls[k % this.urls.length]!);
      const m: Member = { client, seqs: [], arrivals: new Map(), closes: 0, goingAway: 0, auths: 0, notRecovered: 0 };
      client.on("message", (msg: ChatMessage) => {
        if (msg.roomCode !== this.roomCode) return;
        m.seqs.push(msg.seq);
        m.arrivals.set(msg.seq, Date.now());
      });
      client.on("closed", (e) => {
        m.closes++;
        if (e.code === 1001) m.goingAway++;
      });
      client.on("authenticated", () => m.auths++);
      client.on("notRecovered", () => m.notRecovered++);
      await client.register(uniqueName(`l${k}-`), PASSWORD);
      this.members.push(m);
    }
    this.roomCode = (await this.members[0]!.client.createRoom(uniqueName("load"), true)).room!.code;
    for (const m of this.members.slice(1)) await m.client.joinRoom(this.roomCode);
  }

  start(): void {
    this.sending = true;
    this.members.forEach((m, k) => {
      let n = 0;
      let inFlight = 0;
      const fire = () => {
        if (!this.sending || inFlight >= (this.o.maxInFlight ?? 20)) return;
        inFlight++;
        const p = m.client.send(this.roomCode, `load ${k} ${n++}`);
        const entry: Sent = { client: k, sentAt: Date.now() };
        this.sent.set(p.clientMessageId, entry);
        this.settles.push(
          p.acked
            .finally(() => inFlight--)
            .then(
              (ack) => {
                entry.ackedAt = Date.now();
                entry.seq = ack.seq;
              },
              (e: Error) => {
                entry.error = e.message;
              },
            ),
        );
      };
      // Spread the clients' sends over the interval.
      setTimeout(
        () => {
          fire();
          this.timers.push(setInterval(fire, this.o.intervalMs));
        },
        (this.o.intervalMs * k) / this.o.clients,
      );
    });
  }

  /** Highest seq acknowledged so far. */
  maxAckedSeq(): bigint {
    let max = 0n;
    for (const s of this.sent.values()) if (s.seq !== undefined && s.seq > max) max = s.seq;
    return max;
  }

  /** Ms from `since` until the first message acknowledged after `since` was held by every member, or
   * undefined when that did not happen within timeoutMs. */
  async fanOutResumedMs(since: number, timeoutMs: number): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const first = [...this.sent.values()]
        .filter((s) => s.ackedAt !== undefined && s.ackedAt >= since && s.seq !== undefined)
        .sort((a, b) => a.ackedAt! - b.ackedAt!)[0];
      if (first) {
        const seq = first.seq!;
        const all = this.members.map((m) => m.arrivals.get(seq));
        if (all.every((t) => t !== undefined)) return Math.max(...all) - since;
      }
      if (Date.now() > deadline) return undefined;
      await sleep(50);
    }
  }

  /** Stops sending, waits for the outstanding sends to settle and the members to catch up, and counts. */
  async finish(drainMs = 30_000): Promise<LoadFigures> {
    this.sending = false;
    for (const t of this.timers.splice(0)) clearInterval(t);
    const settled = Promise.allSettled(this.settles);
    await Promise.race([settled, sleep(drainMs)]);
    const top = this.maxAckedSeq();
    await waitFor(() => this.members.every((m) => m.client.state === "connected" && m.client.lastSeq(this.roomCode) >= top), drainMs);
    await sleep(300); // pushes still on their way after the last ack

    const history = await this.history();
    const byId = new Map<string, ChatMessage[]>();
    for (const msg of history) byId.set(msg.clientMessageId, [...(byId.get(msg.clientMessageId) ?? []), msg]);
    const values = [...this.sent.entries()];
    const acked = values.filter(([, s]) => s.seq !== undefined);
    const maxSeq = history.length === 0 ? 0n : history[history.length - 1]!.seq;
    const seqs = new Set(history.map((m) => m.seq));
    let gaps = 0;
    for (let s = 1n; s <= maxSeq; s++) if (!seqs.has(s)) gaps++;
    let undelivered = 0;
    let misordered = 0;
    for (const m of this.members) {
      const held = new Set(m.seqs);
      for (const s of seqs) if (!held.has(s)) undelivered++;
      if (m.seqs.some((s, i) => i > 0 && s <= m.seqs[i - 1]!)) misordered++;
    }
    const ackTimes = acked.map(([, s]) => Math.floor(s.ackedAt! / 1000));
    const perSec = new Map<number, number>();
    for (const t of ackTimes) perSec.set(t, (perSec.get(t) ?? 0) + 1);
    return {
      clients: this.members.length,
      sent: this.sent.size,
      acked: acked.length,
      rejected: values.filter(([, s]) => s.error !== undefined).length,
      unsettled: values.filter(([, s]) => s.seq === undefined && s.error === undefined).length,
      stored: history.length,
      ackedLost: acked.filter(([id]) => !byId.has(id)).length,
      duplicates: [...byId.values()].filter((list) => list.length > 1).length,
      ackSeqMismatch: acked.filter(([id, s]) => byId.get(id)?.[0]?.seq !== s.seq && byId.has(id)).length,
      gaps,
      undelivered,
      misordered,
      notRecovered: this.members.reduce((n, m) => n + m.notRecovered, 0),
      disconnected: this.members.filter((m) => m.client.state !== "connected").length,
      closes: this.members.reduce((n, m) => n + m.closes, 0),
      reconnected: this.members.filter((m) => m.closes > 0 && m.auths > 1).length,
      toldGoingAway: this.members.filter((m) => m.goingAway > 0).length,
      peakAcksPerSec: Math.max(0, ...perSec.values()),
    };
  }

  /** The room's whole history, oldest first, through a fresh client (what any member would page through). */
  async history(): Promise<ChatMessage[]> {
    const reader = sdkClient(this.urls[0]!);
    try {
      await reader.register(uniqueName("reader"), PASSWORD);
      await reader.joinRoom(this.roomCode);
      const out: ChatMessage[] = [];
      let anchor = 0n;
      for (;;) {
        const page = await reader.history(this.roomCode, { anchorSeq: anchor, direction: "forward", limit: 200 });
        out.push(...page.messages);
        if (page.messages.length === 0 || !page.hasMore) break;
        anchor = page.messages[page.messages.length - 1]!.seq;
      }
      return out;
    } finally {
      reader.close();
    }
  }

  close(): void {
    this.sending = false;
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const m of this.members) m.client.close();
  }
}

/** One line of figures, `name: k=v k=v`, for the test output and artifacts/cluster-figures.txt. */
export const figureLine = (name: string, f: Record<string, unknown>): string =>
  `${name}: ${Object.entries(f)
    .map(([k, v]) => `${k}=${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) : String(v)}`)
    .join(" ")}`;
