import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readConfig } from "../src/commands.js";
import { changesFor, synth } from "../src/synth.js";
import { unifiedDiff } from "../src/write.js";
import { exampleDirs, EXAMPLES_DIR as examples } from "./support/examples.js";

const names = exampleDirs();

describe("examples/", () => {
  it("has the configurations the README shows", () => {
    expect(names).toEqual(
      expect.arrayContaining([
        "demo",
        "github/linux",
        "github/linux-macos",
        "gitlab/linux",
        "gitlab/linux-macos",
        "github/chroot",
      ]),
    );
    for (const name of names) expect(existsSync(join(examples, name, ".nix-ci-cache", "env.sh")), name).toBe(true);
  });

  it.each(names)("%s matches what generate writes from its config", (name) => {
    const root = join(examples, name);
    const config = readConfig(root);
    // What generate does, stale files and the manifest included.
    const changes = changesFor(root, config, synth(config), false).changes.filter((c) => c.kind !== "unchanged");
    expect(changes.map(unifiedDiff).join("\n"), "run sh scripts/examples.sh").toBe("");
  });
});
