// Room codes: 6 characters drawn with a CSPRNG from 32 unambiguous characters (no 0/O, no 1/I), so
// 32^6 = 2^30 codes. Guessing is made impractical by throttling failed joins (auth/throttle), not by length.
import { randomInt } from "node:crypto";

export const CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
export const CODE_LENGTH = 6;
const CODE_PATTERN = new RegExp(`^[${CODE_ALPHABET}]{${CODE_LENGTH}}$`);

export const mintCode = (): string => {
  let code = "";
  for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
};

/** The canonical form of a code a user typed (case-insensitive, surrounding space ignored), or undefined if it cannot be one. */
export const normalizeCode = (input: string): string | undefined => {
  const code = input.trim().toUpperCase();
  return CODE_PATTERN.test(code) ? code : undefined;
};
