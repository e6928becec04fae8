// Reconnect delays and the close-code policy: which endings reconnect, how long to wait, which stop for good.
// Pure functions, so the policy is tested without sockets or timers.
import { CloseCode } from "../../../proto/gen/es/chat/v1/error_pb.js";

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /**
   * The cap while the page is visible (someone is looking at it): a server that is back is found within
   * this. Hidden tabs and Node keep `maxMs`, so a crowd of background clients does not hammer a server.
   */
  readonly visibleMaxMs?: number;
}

/** The default cap of the backoff while the page is visible. */
export const VISIBLE_MAX_MS = 4000;

/** How a connection that ended with a close code is handled. */
export type ClosePolicy =
  | "reconnect" // back off with full jitter, then resume and recover
  | "reconnect-slow" // the server is busy or limiting us: a longer backoff with a floor of half the cap
  | "reauth-once" // an auth deadline or auth-order failure: reconnect once; a second one in a row stops
  | "stop-revoked" // the session is gone: forget the token, the user must log in with the password
  | "stop-bug" // the client broke the protocol: retrying would loop
  | "stop"; // a normal close by the server

export const closePolicy = (code: number): ClosePolicy => {
  switch (code) {
    case CloseCode.NORMAL:
      return "stop";
    case CloseCode.SESSION_REVOKED:
      return "stop-revoked";
    case CloseCode.UNSUPPORTED_DATA:
    case CloseCode.MESSAGE_TOO_BIG:
    case CloseCode.PROTOCOL_VIOLATION:
      return "stop-bug";
    case CloseCode.AUTH_TIMEOUT:
    case CloseCode.NOT_AUTHENTICATED:
      return "reauth-once";
    case CloseCode.SERVER_BUSY:
    case CloseCode.RATE_LIMITED:
      return "reconnect-slow";
    default:
      // 1001, 1006, 1011, 4000, 4001 and anything unknown in 1000-1999 / 3000-4099: transient.
      if (code >= 4100 && code <= 4199) return "stop";
      return "reconnect";
  }
};

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry after a drop): exponential backoff
 * with full jitter, `random() * min(maxMs, initialMs * 2^attempt)`. Slow mode (busy, rate limited) starts
 * four times higher and waits at least half of its cap, so a crowd of clients does not come straight back.
 * While the page is `visible` (and not slow) the cap is `visibleMaxMs` (default 4 s) and the jitter is
 * "equal": between half the cap and the cap, so successive waits never shrink by more than half and a
 * countdown shown to the user grows steadily (500 ms, 1 s, 2 s, 4 s bands) instead of jumping about.
 */
export const backoffDelay = (attempt: number, options: BackoffOptions, random: () => number, slow = false, visible = false): number => {
  const base = slow ? options.initialMs * 4 : options.initialMs;
  const max = visible && !slow ? Math.min(options.maxMs, options.visibleMaxMs ?? VISIBLE_MAX_MS) : options.maxMs;
  const cap = Math.min(max, base * 2 ** Math.min(attempt, 30));
  const r = Math.min(1, Math.max(0, random()));
  const delay = slow || visible ? cap / 2 + (r * cap) / 2 : r * cap;
  return Math.round(delay);
};
