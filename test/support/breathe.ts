// Most tests run Nix synchronously (spawnSync), and a file of them can keep its worker
// busy for minutes. Vitest's worker waits at most 60 s for the runner's answer to each
// report it sends, and it reads answers only when its event loop gets to them: after
// 60 s without that, the run fails with "Timeout calling onTaskUpdate" although every
// test passed (vitest-dev/vitest#8164). So the loop gets a turn after each test.
import { afterEach } from "vitest";

afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
