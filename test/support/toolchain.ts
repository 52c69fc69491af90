// The hermetic toolchain of every test and bench graph. Imports nothing of Vitest, so
// that npm run bench (outside Vitest) can use it too.

/**
 * Nix `let` bindings shared by every hermetic graph: `system`, the busybox source from
 * ./busybox-src, and `toolchain`, the build-time-only derivation whose bin/sh is that
 * busybox (it picks the applet from argv[0], which Nix sets to "sh").
 */
export function toolchainBindings(tag: string): string {
  return `  system = builtins.currentSystem;
  src = builtins.path { path = ./busybox-src; name = "busybox-src-${tag}"; };
  toolchain = derivation {
    name = "toolchain-${tag}";
    inherit system;
    builder = "\${src}/bin/sh";
    args = [ "-c" "mkdir -p $out/bin && cp \${src}/bin/sh $out/bin/sh" ];
  };
`.trimEnd();
}
