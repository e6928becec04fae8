// The upgrade's pure checks: trusted proxies and X-Forwarded-For, PROXY v1/v2 headers (built with
// proxy-protocol-js, as HAProxy would send them), the Authorization header and the Host allowlist.
import { describe, expect, it } from "vitest";
import {
  Command,
  INETProtocol,
  IPv4Address,
  IPv4ProxyAddress,
  IPv6Address,
  IPv6ProxyAddress,
  Peer,
  TransportProtocol,
  V1ProxyProtocol,
  V2ProxyProtocol,
} from "proxy-protocol-js";
import { clientAddress, normalizeIp, parseCidr, parseProxyHeader, TrustedProxies } from "./client-address.ts";
import { hostAllowed, tokenFrom } from "./server.ts";

describe("trusted proxies and X-Forwarded-For", () => {
  const trusted = new TrustedProxies(["10.0.0.0/8", "::1", "127.0.0.1"]);

  it("parses IPs and CIDRs of both families and refuses anything else", () => {
    expect(parseCidr("10.0.0.0/8")).toEqual({ address: "10.0.0.0", prefix: 8, family: "ipv4" });
    expect(parseCidr("2001:db8::/32")).toEqual({ address: "2001:db8::", prefix: 32, family: "ipv6" });
    for (const bad of ["", "10.0.0.0/33", "example.com", "10.0.0.0/8/1", "1.2.3", "::1/129", "10.0.0.0/x"])
      expect(parseCidr(bad)).toBeUndefined();
    expect(trusted.has("10.1.2.3")).toBe(true);
    expect(trusted.has("::ffff:10.1.2.3")).toBe(true);
    expect(trusted.has("11.0.0.1")).toBe(false);
    expect(normalizeIp("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(normalizeIp("2001:DB8:0:0::9")).toBe("2001:db8::9");
    expect(normalizeIp("0:0:0:0:0:ffff:c000:201")).toBe("192.0.2.1");
  });

  it("takes the right-most untrusted hop, only from a trusted peer", () => {
    expect(clientAddress("192.0.2.9", "198.51.100.1", trusted)).toBe("192.0.2.9"); // untrusted peer: header ignored
    expect(clientAddress("10.0.0.5", undefined, trusted)).toBe("10.0.0.5");
    expect(clientAddress("10.0.0.5", "198.51.100.1", trusted)).toBe("198.51.100.1");
    // The client prepended a fake hop: the balancer appended the real one on the right.
    expect(clientAddress("10.0.0.5", "203.0.113.66, 198.51.100.1", trusted)).toBe("198.51.100.1");
    // Two trusted proxies in a row.
    expect(clientAddress("10.0.0.5", "198.51.100.1, 10.0.0.7", trusted)).toBe("198.51.100.1");
    expect(clientAddress("10.0.0.5", ["198.51.100.1", "10.0.0.7"], trusted)).toBe("198.51.100.1");
    // Ports and brackets are tolerated; a malformed hop stops the walk at the last trusted one.
    expect(clientAddress("10.0.0.5", "[2001:db8::1]:443", trusted)).toBe("2001:db8::1");
    expect(clientAddress("10.0.0.5", "198.51.100.1:5555", trusted)).toBe("198.51.100.1");
    expect(clientAddress("10.0.0.5", "198.51.100.1, garbage, 10.0.0.7", trusted)).toBe("10.0.0.7");
    // Only trusted hops: the left-most one.
    expect(clientAddress("10.0.0.5", "10.0.0.8, 10.0.0.7", trusted)).toBe("10.0.0.8");
    expect(clientAddress("::ffff:127.0.0.1", "192.0.2.4", trusted)).toBe("192.0.2.4");
  });
});

describe("PROXY protocol headers", () => {
  const http = Buffer.from("GET / HTTP/1.1\r\n\r\n");

  it("v1: TCP4, TCP6 and UNKNOWN; incomplete until the CRLF; invalid otherwise", () => {
    const v1 = Buffer.from(new V1ProxyProtocol(INETProtocol.TCP4, new Peer("192.0.2.1", 5555), new Peer("10.0.0.1", 80)).build());
    expect(parseProxyHeader(Buffer.concat([v1, http]))).toEqual({ length: v1.length, source: "192.0.2.1" });
    expect(parseProxyHeader(v1.subarray(0, 10))).toBe("incomplete");
    expect(parseProxyHeader(Buffer.from("PRO"))).toBe("incomplete");
    const v6 = Buffer.from("PROXY TCP6 2001:db8::5 2001:db8::1 5555 80\r\n");
    expect(parseProxyHeader(v6)).toEqual({ length: v6.length, source: "2001:db8::5" });
    expect(parseProxyHeader(Buffer.from("PROXY UNKNOWN\r\n"))).toEqual({ length: 15, source: undefined });
    expect(parseProxyHeader(http)).toBe("invalid");
    expect(parseProxyHeader(Buffer.from("PROXY TCP4 not-an-ip 10.0.0.1 1 2\r\n"))).toBe("invalid");
    expect(parseProxyHeader(Buffer.from(`PROXY ${"x".repeat(120)}`))).toBe("invalid");
  });

  it("v2: IPv4, IPv6 and LOCAL (the balancer's own health checks)", () => {
    const v4 = Buffer.from(
      new V2ProxyProtocol(
        Command.PROXY,
        TransportProtocol.STREAM,
        new IPv4ProxyAddress(IPv4Address.createFrom([192, 0, 2, 7]), 5555, IPv4Address.createFrom([10, 0, 0, 1]), 80),
      ).build(),
    );
    expect(parseProxyHeader(Buffer.concat([v4, http]))).toEqual({ length: v4.length, source: "192.0.2.7" });
    expect(parseProxyHeader(v4.subarray(0, 14))).toBe("incomplete");
    expect(parseProxyHeader(v4.subarray(0, v4.length - 1))).toBe("incomplete");
    const bytes = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x09];
    const v6 = Buffer.from(
      new V2ProxyProtocol(
        Command.PROXY,
        TransportProtocol.STREAM,
        new IPv6ProxyAddress(IPv6Address.createFrom(bytes), 5555, IPv6Address.createFrom(bytes), 80),
      ).build(),
    );
    expect(parseProxyHeader(v6)).toEqual({ length: v6.length, source: "2001:db8::9" });
    const local = Buffer.from(
      new V2ProxyProtocol(
        Command.LOCAL,
        TransportProtocol.UNSPEC,
        new IPv4ProxyAddress(IPv4Address.createWithEmptyAddress(), 0, IPv4Address.createWithEmptyAddress(), 0),
      ).build(),
    );
    expect(parseProxyHeader(local)).toMatchObject({ source: undefined });
  });
});

describe("the Authorization header", () => {
  const url = (q = "") => new URL(`http://x/ws${q}`);
  it("Bearer in any case gives the token; an empty one is invalid; other schemes are ignored; ?token= otherwise", () => {
    expect(tokenFrom("Bearer abc", url())).toBe("abc");
    expect(tokenFrom("bearer abc", url())).toBe("abc");
    expect(tokenFrom("BEARER   abc  ", url())).toBe("abc");
    for (const bad of ["Bearer", "Bearer ", "Bearer    ", "bearer\t"]) expect([bad, tokenFrom(bad, url())]).toEqual([bad, "invalid"]);
    // Not ours (a proxy's Basic auth passed through): as if absent.
    expect(tokenFrom("Basic dXNlcjpwYXNz", url())).toBeUndefined();
    expect(tokenFrom("Bearerabc", url())).toBeUndefined();
    expect(tokenFrom("Basic dXNlcjpwYXNz", url("?token=abc"))).toBe("abc");
    expect(tokenFrom(undefined, url("?token=abc"))).toBe("abc");
    expect(tokenFrom(undefined, url("?token="))).toBe("invalid");
    expect(tokenFrom(undefined, url())).toBeUndefined();
  });
});

describe("the Host allowlist", () => {
  it("allows IP literals, localhost names, listed hosts and the hosts of allowed origins", () => {
    for (const host of ["127.0.0.1:8080", "[::1]:8080", "10.1.2.3", "localhost:8080", "chat.localhost", "LOCALHOST"])
      expect([host, hostAllowed(host, [], [])]).toEqual([host, true]);
    expect(hostAllowed("evil.example:8080", [], [])).toBe(false);
    expect(hostAllowed("chat.example.com", ["chat.example.com"], [])).toBe(true);
    expect(hostAllowed("Chat.Example.com:443", ["chat.example.com"], [])).toBe(true);
    expect(hostAllowed("chat.example.com", [], ["https://chat.example.com"])).toBe(true);
    expect(hostAllowed("anything.example", ["*"], [])).toBe(true);
    expect(hostAllowed(undefined, [], [])).toBe(false);
    expect(hostAllowed("bad host", [], [])).toBe(false);
  });
});
