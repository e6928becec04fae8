// Reading database rows into the Store's records, where both layers read them alike: their drivers hand back
// plain objects keyed by column name, numbers and strings. Rooms and messages differ per layer (booleans and
// 64-bit integers come back in each driver's own way), so their mappers stay beside their SQL.
import type { SessionRecord, UserRecord } from "./store.ts";

export type Row = Record<string, unknown>;

export const num = (value: unknown): number => Number(value);
export const str = (value: unknown): string => String(value);

export const toUser = (row: Row): UserRecord => ({
  id: num(row.id),
  username: str(row.username),
  usernameKey: str(row.username_key),
  passwordHash: str(row.password_hash),
  createdAtMs: num(row.created_at_ms),
});

export const toSession = (row: Row): SessionRecord => ({
  tokenHash: str(row.token_hash),
  userId: num(row.user_id),
  username: str(row.username),
  createdAtMs: num(row.created_at_ms),
  expiresAtMs: num(row.expires_at_ms),
});
