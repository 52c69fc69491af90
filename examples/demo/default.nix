# A hermetic project for the demo and the tests: no network and no nixpkgs.
# busybox-src/bin/sh is a static busybox that scripts/run-demo.sh copies in;
# busybox picks its applet from argv[0], and Nix sets argv[0] to "sh".
let
  system = builtins.currentSystem;
  busybox = builtins.path { path = ./busybox-src; name = "nix-ci-cache-demo-busybox"; };

  # Needed to build the packages, never at run time: a warm run must not fetch it.
  toolchain = derivation {
    name = "nix-ci-cache-demo-toolchain";
    inherit system;
    builder = "${busybox}/bin/sh";
    args = [ "-c" "mkdir -p $out/bin && cp ${busybox}/bin/sh $out/bin/sh" ];
  };

  package = name: deps: derivation {
    name = "nix-ci-cache-demo-${name}";
    inherit system;
    builder = "${toolchain}/bin/sh";
    deps = map toString deps;
    args = [ "-c" ''
      mkdir -p $out/share
      i=0; while [ $i -lt 2000 ]; do echo "${name} line $i"; i=$((i+1)); done > $out/share/data
      echo "$deps" > $out/share/deps
    '' ];
  };
in
rec {
  libbase = package "libbase" [ ];
  libnet = package "libnet" [ libbase ];
  libui = package "libui" [ libbase ];
  core = package "core" [ libnet libui ];
  cli = package "cli" [ core ];
  server = package "server" [ core libnet ];
  docs = package "docs" [ ];
  app = package "app" [ cli server docs ];
}
