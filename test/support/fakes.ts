// Commands put first on PATH in place of what this machine cannot run for real (another
// Nix version, macOS's uname and launchctl, systemd's systemctl), each recording how
// it was called. Tests that use them say "emulated" in their names.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./nix.js";

export interface FakeBin {
  /** the directory to put first on PATH */
  dir: string;
  /**
   * Adds command `name` running shell `body`. Each call appends "name args" to the log,
   * with `who` "uid=<uid> sudo_user=<who ran sudo>: name args", nothing when `quiet`.
   */
  add(name: string, body: string, opts?: { who?: boolean; quiet?: boolean }): void;
  /** The calls recorded so far, one a line. */
  calls(): string[];
  /** Forgets the calls recorded so far. */
  clear(): void;
}

/** The path of a real command of this machine. */
export function realCommand(name: string): string {
  const path = run(`command -v ${name}`, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } }).stdout.trim();
  if (!path.startsWith("/")) throw new Error(`${name} is not on PATH`);
  return path;
}

/** A directory of fake commands in `parent`, which other users may run (and log from). */
export function fakeBin(parent: string): FakeBin {
  const dir = join(parent, "fake-bin");
  const log = join(parent, "fake-calls.log");
  mkdirSync(dir, { recursive: true });
  chmodSync(parent, 0o755);
  chmodSync(dir, 0o755);
  const clear = () => {
    writeFileSync(log, "");
    chmodSync(log, 0o666);
  };
  clear();
  return {
    dir,
    add(name, body, opts = {}) {
      const who = opts.who ? "uid=$(id -u) sudo_user=$SUDO_USER: " : "";
      const record = opts.quiet ? "" : `printf '%s\\n' "${who}${name} $*" >>'${log}'\n`;
      writeFileSync(join(dir, name), `#!/bin/sh\n${record}${body}\n`);
      chmodSync(join(dir, name), 0o755);
    },
    calls: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []),
    clear,
  };
}

/** A `uname` whose `-s` prints `os` (macOS: "Darwin"); the real one answers the rest. */
export function fakeUname(bin: FakeBin, os: string): void {
  bin.add("uname", `case "$1" in -s) echo ${os} ;; *) exec ${realCommand("uname")} "$@" ;; esac`, { quiet: true });
}
