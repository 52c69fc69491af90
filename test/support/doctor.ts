// Runs .nix-ci-cache/doctor.sh and reads its lines: "✓ what", "✗ what — fix", "! what — fix".
import { expect } from "vitest";
import { type RunOptions, type RunResult, run } from "./nix.js";

export interface DoctorRun extends RunResult {
  lines: string[];
}

export function runDoctor(dir: string, opts: RunOptions & { before?: string } = {}): DoctorRun {
  const before = opts.before ? `${opts.before}\n` : "";
  const r = run(`${before}sh .nix-ci-cache/doctor.sh`, { ...opts, cwd: dir });
  return { ...r, lines: r.stdout.split("\n").filter(Boolean) };
}

/** The one line with mark `mark` whose text starts with `start`; fails naming all lines otherwise. */
export function line(d: DoctorRun, mark: "✓" | "✗" | "!", start: string): string {
  const found = d.lines.filter((l) => l.startsWith(`${mark} ${start}`));
  expect(found, `${mark} ${start}… in:\n${d.stdout}${d.stderr}`).toHaveLength(1);
  return found[0] as string;
}

/**
 * Every check passed: no ✗, no !, exit 0. Except the ! of Nix before 2.16 at max-jobs 1
 * (one substitution at a time), a speed note every such Nix gets with its defaults,
 * and its own test's subject (runtime-doctor.test.ts, "substitution in parallel").
 */
export function expectAllPass(d: DoctorRun): void {
  const checks = d.lines.filter((l) => /^[✓✗!] /.test(l));
  const slow = checks.filter((l) => /^! substitution: Nix 2\.([0-9]|1[0-5])\.\S* runs one substitution at a time/.test(l));
  expect(
    checks.filter((l) => !l.startsWith("✓ ") && !slow.includes(l)),
    d.stdout + d.stderr,
  ).toEqual([]);
  expect(checks.length).toBeGreaterThanOrEqual(10);
  expect(d.lines.at(-1)).toBe(`nix-ci-cache doctor: 0 blocker(s), ${slow.length} warning(s)`);
  expect(d.status, d.stderr).toBe(0);
}

/** At least one blocker: exit 1, and the summary counts it. */
export function expectBlocked(d: DoctorRun): void {
  expect(d.lines.at(-1), d.stdout).toMatch(/^nix-ci-cache doctor: [1-9]\d* blocker\(s\)/);
  expect(d.status, d.stdout + d.stderr).toBe(1);
}
