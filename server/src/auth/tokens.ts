// Session tokens: 32 random bytes as base64url (43 characters). Only SHA-256(token) is stored, so a leaked
// database does not leak usable tokens.
import { createHash, randomBytes } from "node:crypto";

/** A new bearer token: 256 bits from the CSPRNG, URL-safe. */
export const mintToken = (): string => randomBytes(32).toString("base64url");

/** The stored form of a token: SHA-256 of its UTF-8 bytes, lower-case hex. */
export const hashToken = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex");

/** Cheap shape check before any look-up: what mintToken produces (and what AuthOk promises: ≤ 128 URL-safe chars). */
export const isWellFormedToken = (token: string): boolean => /^[A-Za-z0-9_-]{16,128}$/.test(token);
