// The view state <chat-app> renders, as the controller keeps it: where the element is (phase), who is signed
// in, the connection, the rooms and DMs (read through Conversations), the notices, and what draws the user
// back (Attention). ChatController extends it with the calls that change it; elements only read it.
import type { ConnectionState, RoomSummary } from "../sdk/index.ts";
import { Attention, type NotificationsState } from "./attention.ts";
import type { Active, Banner, DirectView, Phase, RoomView, Toast } from "./chat-state.ts";
import type { Conversations } from "./conversations.ts";
import { readInvite } from "./invite.ts";
import type { Notices } from "./notices.ts";

export class ChatViewState {
  /** Set by the controller's constructor. */
  protected conv!: Conversations;
  protected notices!: Notices;

  phase: Phase = "starting";
  me: string | undefined;
  connection: ConnectionState = "disconnected";
  authError: string | undefined;
  authBusy = false;
  /** Resuming the stored session failed for a reason other than the session (e.g. no network): offer a retry. */
  resumeFailed = false;
  publicRooms: RoomSummary[] = [];
  publicRoomsLoaded = false;
  /** The code of a room this page just created, to show the share card. */
  justCreated: string | undefined;
  /** The room of the invite link the page was opened with, joined once signed in (see invite.ts). */
  invite: string | undefined = readInvite();
  /** The unread count in the page title and desktop notifications. */
  readonly attention = new Attention();

  /** Messages from others not yet seen, over every room and DM (the page title shows it). */
  get unreadTotal(): number {
    return this.conv.unreadTotal;
  }

  get notifications(): NotificationsState {
    return this.attention.notifications;
  }

  // ---- the conversations' state (see Conversations) -----------------------------------------------------

  get rooms(): ReadonlyMap<string, RoomView> {
    return this.conv.rooms;
  }
  get dms(): ReadonlyMap<string, DirectView> {
    return this.conv.dms;
  }
  get online(): readonly string[] {
    return this.conv.online;
  }
  get active(): Active {
    return this.conv.active;
  }
  get activeRoom(): RoomView | undefined {
    return this.conv.activeRoom;
  }
  get activeDirect(): DirectView | undefined {
    return this.conv.activeDirect;
  }
  isMe(name: string): boolean {
    return this.conv.isMe(name);
  }
  isOnline(name: string): boolean {
    return this.conv.isOnline(name);
  }

  // ---- notices (see Notices) ----------------------------------------------------------------------------

  get banner(): Banner | undefined {
    return this.notices.banner;
  }
  get toasts(): readonly Toast[] {
    return this.notices.toasts;
  }
  get announcement(): string {
    return this.notices.announcement;
  }
  toast(text: string): void {
    this.notices.toast(text);
  }
  dismissToast(id: number): void {
    this.notices.dismissToast(id);
  }
  dismissBanner(): void {
    this.notices.dismissBanner();
  }
}
