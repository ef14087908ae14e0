// Starts the real Go server (`shoal up` on a free loopback port) for integration tests.
// The binary comes from SHOAL_BIN (scripts/sdk-test.sh builds it); without it the tests
// that need a server are skipped.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const shoalBin = process.env.SHOAL_BIN ?? "";

export interface Server {
  url: string; // http://127.0.0.1:PORT
  ws: string; // ws://127.0.0.1:PORT/tracker
  key: string; // the stream key file's public key, as served at /live/demo/key
  stop(): Promise<void>;
}

export async function startShoal(extra: string[] = []): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "shoal-sdk-srv-"));
  const proc: ChildProcess = spawn(shoalBin, ["up", "--listen", "127.0.0.1:0", "--key-file", join(dir, "origin.key"), "--log-level", "warn", ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const t = setTimeout(() => reject(new Error("shoal up did not start: " + stderr)), 15000);
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /shoal up on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    proc.on("exit", (c) => reject(new Error(`shoal up exited ${c}: ${stderr}`)));
  });
  const key = await (await fetch(url + "/live/demo/key")).text();
  return {
    url,
    ws: url.replace("http", "ws") + "/tracker",
    key,
    async stop() {
      const done = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await done;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
