// The parts of <chat-app>'s inner elements that it passes on (exportparts), by element, so a page styles
// them as `chat-app::part(room-item)`. Every part an inner element documents is listed here (manifest.test.ts).
export const EXPORT = {
  login: "auth, auth-form, button, input",
  sidebar:
    "sidebar, connection-status, room-item, dm-item, online-item, unread-badge, mention-badge, account, notifications-button, logout-button, button",
  header: "conversation-header, room-code, copy-button, temporary-note, invite-button, members-button, leave-button, button",
  banner: "banner, button",
  lobby: "lobby, public-rooms, button, input",
  timeline:
    "timeline, message, message-own, bubble, message-status, notice, day-separator, new-divider, mention, jump-button, reply-quote, edited, tombstone, reactions, reaction, actions-button, actions-menu, attachments, attachment-image, attachment-file, image-dialog, button",
  start: "share, room-code, copy-button, invite-button, button",
  composer: "typing, reply-bar, composer, composer-input, send-button, attach-button, uploads, button, input",
  members: "members, button",
  toasts: "toast, button",
};
