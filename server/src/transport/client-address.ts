// The client's own address behind load balancers: X-Forwarded-For honoured only from trusted proxies (the
// right-most untrusted hop), and the PROXY protocol v1/v2 header read before HTTP when --proxy-protocol is on.
// Per-address limits and logs use this address, so they keep meaning "per client", not "per balancer".
import { BlockList, isIP, type Server, SocketAddress, type Socket } from "node:net";
import { Command, IPv4ProxyAddress, IPv6ProxyAddress, V1ProxyProtocol, V2ProxyProtocol } from "proxy-protocol-js";

/** An IP or CIDR as `--trusted-proxies` accepts it; undefined when malformed. */
export const parseCidr = (
  entry: string,
): { readonly address: string; readonly prefix: number; readonly family: "ipv4" | "ipv6" } | undefined => {
  const [rawAddress = "", rawPrefix, ...rest] = entry.trim().split("/");
  if (rest.length > 0) return undefined;
  const address = normalizeIp(rawAddress);
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = rawPrefix === undefined ? max : /^\d{1,3}$/.test(rawPrefix) ? Number(rawPrefix) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address, prefix, family: version === 4 ? "ipv4" : "ipv6" };
};

/**
 * One spelling per address, so per-address limits cannot be dodged by writing it differently: IPv4-mapped IPv6
 * (::ffff:10.0.0.1, as Node reports IPv4 peers on a dual-stack socket) becomes plain IPv4, and IPv6 is
 * compressed and lower-cased (2001:DB8:0::9 -> 2001:db8::9). Anything that is not an IP is returned as is.
 */
export const normalizeIp = (ip: string): string => {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIP(ip) !== 6) return ip;
  const canonical = new SocketAddress({ address: ip, family: "ipv6" }).address;
  const remapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(canonical);
  return remapped ? remapped[1]! : canonical;
};

/** The set of `--trusted-proxies`, on Node's own BlockList (CIDR matching for both families). */
export class TrustedProxies {
  readonly #list = new BlockList();
  readonly size: number;

  constructor(entries: ReadonlyArray<string>) {
    this.size = entries.length;
    for (const entry of entries) {
      const cidr = parseCidr(entry);
      if (cidr === undefined) throw new RangeError(`not an IP address or CIDR: ${entry}`);
      this.#list.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
  }

  has(ip: string): boolean {
    if (this.size === 0) return false;
    const address = normalizeIp(ip);
    const version = isIP(address);
    return version !== 0 && this.#list.check(address, version === 4 ? "ipv4" : "ipv6");
  }
}

/** One X-Forwarded-For entry as an address: "[v6]:port" and "v4:port" lose the port; undefined if not an IP. */
const forwardedEntry = (raw: string): string | undefined => {
  let entry = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(entry);
  if (bracketed) entry = bracketed[1]!;
  else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d+$/.test(entry)) entry = entry.slice(0, entry.lastIndexOf(":"));
  entry = normalizeIp(entry);
  return isIP(entry) === 0 ? undefined : entry;
};

/**
 * The client's address for a request arriving from `peer`: `peer` itself unless it is a trusted proxy; then
 * the right-most X-Forwarded-For hop that is not a trusted proxy (the hops right of it were added by proxies
 * we trust; anything left of it is whatever the client chose to send). A malformed hop ends the walk at the
 * last trusted one.
 */
export const clientAddress = (peer: string, forwardedFor: string | ReadonlyArray<string> | undefined, trusted: TrustedProxies): string => {
  let address = normalizeIp(peer);
  if (!trusted.has(address) || forwardedFor === undefined) return address;
  const hops = (typeof forwardedFor === "string" ? forwardedFor : forwardedFor.join(",")).split(",");
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = forwardedEntry(hops[i]!);
    if (hop === undefined) return address;
    address = hop;
    if (!trusted.has(hop)) return hop;
  }
  return address;
};

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** The longest v1 header (107 bytes, by the spec) and the most v2 address/TLV bytes we accept. */
const V1_MAX = 107;
const V2_MAX = 16 + 512;

type Header = { readonly length: number; readonly source: string | undefined } | "incomplete" | "invalid";

const ipv6FromBytes = (bytes: ReadonlyArray<number>): string =>
  normalizeIp(Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16)).join(":"));

/** Parses a PROXY header at the start of `data` with proxy-protocol-js; `source` undefined = LOCAL/UNKNOWN. */
export const parseProxyHeader = (data: Buffer): Header => {
  const v2Prefix = data.subarray(0, Math.min(data.length, V2_SIGNATURE.length));
  if (V2_SIGNATURE.subarray(0, v2Prefix.length).equals(v2Prefix)) {
    if (data.length < 16) return "incomplete";
    const length = 16 + data.readUInt16BE(14);
    if (length > V2_MAX) return "invalid";
    if (data.length < length) return "incomplete";
    try {
      const header = V2ProxyProtocol.parse(new Uint8Array(data.subarray(0, length)));
      if (header.command === Command.LOCAL) return { length, source: undefined };
      const address = header.proxyAddress;
      if (address instanceof IPv4ProxyAddress) return { length, source: address.sourceAddress.address.join(".") };
      if (address instanceof IPv6ProxyAddress) return { length, source: ipv6FromBytes(address.sourceAddress.address) };
      return { length, source: undefined }; // UNIX or UNSPEC: no client IP to take
    } catch {
      return "invalid";
    }
  }
  const v1Prefix = data.subarray(0, Math.min(data.length, 6)).toString("latin1");
  if (!"PROXY ".startsWith(v1Prefix)) return "invalid";
  const end = data.indexOf("\r\n");
  if (end < 0) return data.length >= V1_MAX ? "invalid" : "incomplete";
  const length = end + 2;
  if (length > V1_MAX) return "invalid";
  const line = data.subarray(0, length).toString("latin1");
  if (line.startsWith("PROXY UNKNOWN")) return { length, source: undefined };
  try {
    const source = normalizeIp(V1ProxyProtocol.parse(line).source.ipAddress);
    return isIP(source) === 0 ? "invalid" : { length, source };
  } catch {
    return "invalid";
  }
};

/** The address each proxied socket's PROXY header named (absent for LOCAL/UNKNOWN: the balancer's own checks). */
const proxiedSources = new WeakMap<Socket, string>();

/** The peer a request came from: the PROXY header's source when there was one, else the TCP peer. */
export const peerAddress = (socket: Socket): string => proxiedSources.get(socket) ?? normalizeIp(socket.remoteAddress ?? "unknown");

/**
 * Hands `http` only sockets that begin with a valid PROXY header from a trusted peer, header removed. Others
 * are destroyed: a client reaching the node directly, or a header that is malformed or not complete within
 * `timeoutMs`.
 */
export const acceptProxied = (socket: Socket, http: Server, trusted: TrustedProxies, timeoutMs = 5_000): void => {
  socket.on("error", () => socket.destroy());
  if (!trusted.has(socket.remoteAddress ?? "")) {
    socket.destroy();
    return;
  }
  let buffered: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  timer.unref();
  const onData = (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const header = parseProxyHeader(buffered);
    if (header === "incomplete") return;
    clearTimeout(timer);
    socket.removeListener("data", onData);
    if (header === "invalid") {
      socket.destroy();
      return;
    }
    // Paused so nothing flows past while no one listens; the HTTP server's listeners are attached by the
    // "connection" event, and the bytes after the header are read again by it.
    socket.pause();
    if (header.source !== undefined) proxiedSources.set(socket, header.source);
    const rest = buffered.subarray(header.length);
    if (rest.length > 0) socket.unshift(rest);
    http.emit("connection", socket);
    socket.resume();
  };
  socket.on("data", onData);
};
