import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** The repository root (scripts/test.mjs sets SHOAL_REPO). */
export const repo = process.env.SHOAL_REPO ?? resolve("../..");

export function readRepo(...path: string[]): Buffer {
  return readFileSync(join(repo, ...path));
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

export function unhex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "hex"));
}
