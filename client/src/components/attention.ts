// What draws the reader back to <chat-app>: the unread total in the page's title ("(3) protochat") and desktop
// notifications (the Notification API) for messages that arrive while the page is hidden. Notifications
// are off until the user switches them on (the permission is asked for only then, from that click), and
// the choice is remembered in localStorage.
import { nameKey } from "./chat-state.ts";

const PREF_KEY = "protochat:notifications";
const BODY_CHARS = 140;

export type NotificationsState = "off" | "on" | "blocked" | "unsupported";

interface NotificationApi {
  readonly permission: "default" | "granted" | "denied";
  requestPermission(): Promise<"default" | "granted" | "denied">;
  new (title: string, options: { body: string; tag: string }): { onclick: (() => void) | null; close(): void };
}

const api = (): NotificationApi | undefined => (globalThis as { Notification?: NotificationApi }).Notification;

/** Whether the page is hidden (another tab, minimised): what a desktop notification is for. */
export const pageHidden = (): boolean => globalThis.document?.visibilityState === "hidden";

export class Attention {
  /** The page's own title, before any count was put in front of it. */
  #baseTitle: string | undefined;
  #shownTotal = -1;
  /** The choice when storage cannot keep it. */
  #memory: string | null = null;

  /** Puts the unread total in front of the page's title, "(3) protochat"; the bare title at 0. */
  showUnread(total: number): void {
    const doc = globalThis.document;
    if (doc === undefined || total === this.#shownTotal) return;
    this.#baseTitle ??= doc.title.replace(/^\(\d+\+?\) /u, "");
    this.#shownTotal = total;
    doc.title = total > 0 ? `(${total > 99 ? "99+" : total}) ${this.#baseTitle}` : this.#baseTitle;
  }

  /** The title as the page had it (the element is leaving the page, or signed out). */
  restoreTitle(): void {
    this.showUnread(0);
  }

  /** Whether desktop notifications are on, and if not, why not. */
  get notifications(): NotificationsState {
    const n = api();
    if (n === undefined) return "unsupported";
    if (n.permission === "denied") return "blocked";
    return n.permission === "granted" && this.#pref() === "on" ? "on" : "off";
  }

  /**
   * Turns desktop notifications on or off (from a click: the browser asks for permission only here).
   * Returns the state after the change.
   */
  async setNotifications(on: boolean): Promise<NotificationsState> {
    const n = api();
    if (n === undefined) return "unsupported";
    if (!on) {
      this.#setPref("off");
      return this.notifications;
    }
    const permission = n.permission === "default" ? await n.requestPermission() : n.permission;
    this.#setPref(permission === "granted" ? "on" : "off");
    return this.notifications;
  }

  /** Shows a desktop notification for a message when they are on and the page is hidden; `open` on click. */
  notify(title: string, body: string, conversation: string, open: () => void): void {
    const n = api();
    if (n === undefined || this.notifications !== "on" || !pageHidden()) return;
    const text = body.length > BODY_CHARS ? `${body.slice(0, BODY_CHARS - 1)}…` : body;
    try {
      // One notification per conversation: a newer one replaces the older (same tag).
      const shown = new n(title, { body: text, tag: `protochat:${nameKey(conversation)}` });
      shown.onclick = () => {
        globalThis.focus?.();
        open();
        shown.close();
      };
    } catch {
      // Some browsers allow notifications only from a service worker: the title count still says it.
    }
  }

  #pref(): string | null {
    try {
      return globalThis.localStorage?.getItem(PREF_KEY) ?? this.#memory;
    } catch {
      return this.#memory;
    }
  }

  #setPref(value: "on" | "off"): void {
    this.#memory = value;
    try {
      globalThis.localStorage?.setItem(PREF_KEY, value);
    } catch {
      // Storage full or disabled: the choice lasts until the page reloads.
    }
  }
}
