// The view state <chat-app> renders, shared by its controller and its elements: rooms, DMs, the open
// conversation and the notices. Plain data (no DOM, no socket), mutated only by the controller.
import type { Timeline } from "./timeline.ts";

/** Where the element is: resuming a stored session, on the sign-in screen, or signed in. */
export type Phase = "starting" | "auth" | "ready";

export interface RoomView {
  readonly code: string;
  name: string;
  persistent: boolean;
  members: string[];
  memberCount: number;
  readonly timeline: Timeline;
  /** Other members typing now, in the order they started. */
  typing: string[];
  /** Messages from others that arrived while the room was not in view. */
  unread: number;
  /** Of those, the ones that @mention the reader. */
  mentions: number;
  /** The seq of the first of them (the "New" divider goes there when the room is opened). */
  unreadFrom: bigint | undefined;
  loadingOlder: boolean;
}

export interface DirectView {
  /** The peer's name as the server spells it. */
  peer: string;
  readonly timeline: Timeline;
  unread: number;
  mentions: number;
  unreadFrom: bigint | undefined;
  loadingOlder: boolean;
}

/** The open view: the lobby (create / join / public rooms), a room, or a DM conversation. */
export type Active =
  | { readonly kind: "lobby" }
  | { readonly kind: "room"; readonly code: string }
  | { readonly kind: "dm"; readonly peer: string };

export interface Banner {
  readonly text: string;
  readonly tone: "info" | "warn" | "ok";
  /** While waiting to reconnect: when the next attempt starts (for the countdown). */
  readonly retryAtMs?: number;
  /** Offer a "Reconnect now" button (after a close that does not reconnect by itself). */
  readonly canReconnect?: boolean;
  /** Offer "Retry now" (waiting for the next automatic attempt). */
  readonly canRetryNow?: boolean;
  /** False while the notice describes a state still in progress (waiting to reconnect). */
  readonly dismissible: boolean;
}

export interface Toast {
  readonly id: number;
  readonly text: string;
}

/** How usernames compare: the server treats names case-insensitively after NFC normalisation. */
export const nameKey = (s: string): string => s.normalize("NFC").toLowerCase();

export const roomTitle = (r: { readonly name: string; readonly code: string }): string => r.name || `Room ${r.code}`;

/** One key per conversation, to tell when the open one changed. */
export const conversationKey = (a: Active): string =>
  a.kind === "room" ? `r:${a.code}` : a.kind === "dm" ? `d:${nameKey(a.peer)}` : "lobby";
