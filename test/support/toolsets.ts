// The commands a job has where the generated files run, as a PATH holding exactly
// them (symlinks to this machine's, or a root's, programs of the same name):
// - the nixos/nix image (NixOS/nix docker.nix: bashInteractive as /bin/sh, coreutils-full,
//   gnutar, gzip, gnugrep, which, curl, less, wget, man, findutils, git, openssh, nix):
//   no awk, no sed, no zstd;
// - busybox alone (Debian's busybox-static applets), as in Alpine-like images;
// - exactly the commands docs/where-it-runs.md promises the runtime uses, with dash.
import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "./scratch.js";

export type ToolsetName = "nixos/nix image" | "busybox" | "documented commands";

/** The list under "The commands the runtime uses" in docs/where-it-runs.md. */
export function documentedCommands(): string[] {
  const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "where-it-runs.md"), "utf8");
  const block = /## The commands the runtime uses[\s\S]*?```\n([\s\S]*?)```/.exec(doc)?.[1];
  if (!block) throw new Error("docs/where-it-runs.md: no command list");
  return block.split(/\s+/).filter(Boolean);
}

/** The commands of a toolset definition (not counting Nix's). */
export function toolsetCommands(name: "nixos/nix image" | "busybox"): string[] {
  return (name === "busybox" ? BUSYBOX : `${COREUTILS} ${IMAGE_OTHERS}`).split(" ");
}

/** GNU coreutils' programs (coreutils-full installs them all). */
const COREUTILS =
  "[ b2sum base32 base64 basename basenc cat chcon chgrp chmod chown chroot cksum comm cp csplit cut date dd df dir dircolors dirname du echo env expand expr factor false fmt fold groups head hostid id install join kill link ln logname ls md5sum mkdir mkfifo mknod mktemp mv nice nl nohup nproc numfmt od paste pathchk pinky pr printenv printf ptx pwd readlink realpath rm rmdir runcon seq sha1sum sha224sum sha256sum sha384sum sha512sum shred shuf sleep sort split stat stdbuf stty sum sync tac tail tee test timeout touch tr true truncate tsort tty uname unexpand uniq unlink uptime users vdir wc who whoami yes";
const IMAGE_OTHERS = "bash tar gzip gunzip zcat grep egrep fgrep which curl less wget man find xargs git ssh scp ssh-keygen";
export const NIX_COMMANDS =
  "nix nix-build nix-channel nix-collect-garbage nix-copy-closure nix-daemon nix-env nix-hash nix-instantiate nix-prefetch-url nix-shell nix-store";

/** Applets of Debian's busybox-static 1.35 that a shell script could call (no comm, join, cksum). */
const BUSYBOX =
  "[ ash awk base64 basename cat chgrp chmod chown cmp cp cut date dd df diff dirname du echo egrep env expand expr false fgrep find fold grep gunzip gzip head hexdump hostname id kill ln ls md5sum mkdir mkfifo mktemp more mv nl nproc od paste printf pwd readlink realpath rev rm rmdir sed seq sh sha1sum sha256sum sha512sum shuf sleep sort stat tac tail tar tee test time timeout touch tr true truncate uname uniq unlink unxz wc which whoami xargs xxd yes zcat";

export interface Toolset {
  name: ToolsetName;
  /** The directory to use as PATH. */
  bin: string;
  /** The shell a job's script runs in: the image's /bin/sh is bash. */
  shell: string[];
}

function where(cmd: string): string | undefined {
  return ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map((d) => join(d, cmd)).find((p) => existsSync(p));
}

/**
 * Makes the PATH directory. Links point to absolute paths that this machine and the
 * Debian roots share (/usr/bin/sort, /bin/busybox), so the same directory serves both.
 */
export function toolset(name: ToolsetName): Toolset {
  const bin = join(scratchDir("ncc-tools-"), "bin");
  mkdirSync(bin);
  const link = (cmd: string, target: string) => symlinkSync(target, join(bin, cmd));
  for (const cmd of NIX_COMMANDS.split(" ")) link(cmd, `/usr/bin/${cmd}`);
  if (name === "busybox") {
    for (const cmd of BUSYBOX.split(" ")) link(cmd, "/bin/busybox");
    return { name, bin, shell: [join(bin, "sh")] };
  }
  if (name === "documented commands") {
    for (const cmd of documentedCommands()) link(cmd, where(cmd) as string);
    link("sh", "/bin/dash");
    return { name, bin, shell: [join(bin, "sh")] };
  }
  for (const cmd of `${COREUTILS} ${IMAGE_OTHERS}`.split(" ")) {
    const target = where(cmd);
    if (target) link(cmd, target);
  }
  link("sh", where("bash") as string);
  return { name, bin, shell: [join(bin, "sh")] };
}
