import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/support/job-marks.ts", "test/support/breathe.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Nix tests share one store and two cores; running files one after another keeps timings honest.
    fileParallelism: false,
  },
});
