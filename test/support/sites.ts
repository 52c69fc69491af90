// Where a test's commands run: this machine, or a Debian root with another Nix
// (scripts/nix-roots.sh), entered with bubblewrap. The host's /tmp is bound into the
// root, so projects, caches and archives made by the test are seen on both sides.
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface Site {
  /** "host", or the Debian suite of the root. */
  name: string;
  /** The root directory, entered with bwrap; undefined for this machine. */
  root?: string;
  /**
   * The root's /proc: "host" binds this machine's (Nix's sandbox can mount a new proc
   * there), "new" is bwrap's own, with read-only covers over parts of it, as in many
   * containers: a proc mount in a new user namespace is refused there.
   */
  proc?: "host" | "new";
  /**
   * A directory bound at /nix: a store of the test's own, new as on a machine where
   * Nix has never run (Debian's nix-bin creates /nix at the first command).
   */
  nix?: string;
  /** Files of this machine bound read-only over the root's: [this machine's path, the root's]. */
  files?: Array<[string, string]>;
}

export const HOST: Site = { name: "host" };

const BWRAP = "/usr/bin/bwrap";
const ROOTS = process.env.NIX_CI_CACHE_ROOTS ?? "/var/cache/nix-ci-cache/roots";

/**
 * The suites the tests run Nix of: bookworm (2.8), trixie (2.26) and the newest Debian
 * packages, sid's, or testing's on a day sid could not be made (scripts/setup.sh).
 */
export function suites(): string[] {
  const newest = existsSync(join(ROOTS, "sid", ".nix-roots-stamp")) || !existsSync(join(ROOTS, "testing", ".nix-roots-stamp"));
  return ["bookworm", "trixie", newest ? "sid" : "testing"];
}

/** The root of a suite, which `sh scripts/nix-roots.sh SUITE` builds (setup does); fails when it is not there. */
export function rootSite(suite: string, proc: "host" | "new" = "host"): Site {
  const root = join(ROOTS, suite);
  if (!existsSync(join(root, ".nix-roots-stamp"))) {
    throw new Error(
      `no Debian ${suite} root in ${ROOTS}: run "sh scripts/nix-roots.sh ${suite}" as root (sh scripts/setup.sh does)`,
    );
  }
  return { name: proc === "new" ? `${suite} (bwrap's own /proc)` : suite, root, proc };
}

/** The site with a new, empty /nix of its own (in a scratch directory). */
export function withNewStore(site: Site, dir: string): Site {
  if (!site.root) throw new Error("only a root can have a store of its own");
  // /nix is open to every user, as Nix makes it (a scratch directory is 0700).
  chmodSync(dir, 0o755);
  return { ...site, nix: dir };
}

/** The Nix version in a root, as its stamp recorded it ("nix (Nix) 2.26.3"). */
export function rootNixVersion(site: Site): string {
  if (!site.root) throw new Error("not a root");
  return (readFileSync(join(site.root, ".nix-roots-stamp"), "utf8").split("\n")[0] ?? "").trim();
}

/** The program and arguments that run argv at the site, in directory cwd. */
export function atSite(site: Site, argv: string[], cwd?: string): [string, string[]] {
  if (!site.root) return [argv[0] as string, argv.slice(1)];
  const proc = site.proc === "new" ? ["--proc", "/proc"] : ["--bind", "/proc", "/proc"];
  const chdir = cwd ? ["--chdir", cwd] : [];
  const nix = site.nix ? ["--bind", site.nix, "/nix"] : [];
  const files = (site.files ?? []).flatMap(([from, to]) => ["--ro-bind", from, to]);
  return [
    // Not looked up in the job's PATH, which may hold only a toolset.
    BWRAP,
    [
      "--bind",
      site.root,
      "/",
      ...proc,
      "--dev",
      "/dev",
      "--ro-bind",
      "/sys",
      "/sys",
      "--bind",
      "/tmp",
      "/tmp",
      ...nix,
      ...files,
      "--die-with-parent",
      ...chdir,
      "--",
      ...argv,
    ],
  ];
}
