// The scale benchmark's figure: seconds against the closure's size, both on log
// scales, one line per way of saving or restoring. A plain SVG, no dependencies.
/** What the plot reads of a row of bench/scale.ts. */
export interface Row {
  what: string;
  bytes: number;
  scaling: boolean;
  save: number;
  tarZstd: number;
  noopSave: number[];
  warm: number;
  unpack: number;
  nixArchive: number;
}

interface Series {
  name: string;
  color: string;
  dash?: string;
  y: (r: Row) => number;
}

const SERIES: Series[] = [
  { name: "save (ours)", color: "#1f77b4", y: (r) => r.save },
  { name: "tar | zstd -T0 (limit)", color: "#1f77b4", dash: "4 3", y: (r) => r.tarZstd },
  { name: "no-op save (ours)", color: "#2ca02c", y: (r) => Math.min(...r.noopSave) },
  // A warm run stopped at the bench's limit is drawn at that limit (a lower bound).
  { name: "warm run (ours)", color: "#d62728", y: (r) => r.warm },
  { name: "unpack of tar.zst (limit)", color: "#d62728", dash: "4 3", y: (r) => r.unpack },
  { name: "cache-nix-action: tar | zstd of /nix", color: "#7f7f7f", dash: "1 3", y: (r) => r.nixArchive },
];

const W = 840;
const H = 420;
const M = { left: 64, right: 250, top: 20, bottom: 48 };

const log = (v: number) => Math.log10(Math.max(v, 1e-3));
const MiB = 2 ** 20;
const label = (mib: number) => `${mib.toLocaleString("en-US")} MiB`;
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/**
 * An SVG of every series: a line through the scaling rows (100 / 1,000 / 10,000
 * paths), and the other graphs as open circles, which differ in shape, not only size.
 */
export function plot(rows: Row[]): string {
  const sorted = [...rows].sort((a, b) => a.bytes - b.bytes);
  const xOf = (r: Row) => log(r.bytes / MiB);
  const xs = sorted.map(xOf);
  const ys = sorted.flatMap((r) => SERIES.map((s) => log(s.y(r))));
  const [x0, x1] = [Math.floor(Math.min(...xs)), Math.ceil(Math.max(...xs))];
  const [y0, y1] = [Math.floor(Math.min(...ys)), Math.ceil(Math.max(...ys))];
  const px = (v: number) => M.left + ((v - x0) / Math.max(x1 - x0, 1)) * (W - M.left - M.right);
  const py = (v: number) => H - M.bottom - ((v - y0) / Math.max(y1 - y0, 1)) * (H - M.top - M.bottom);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(
    "<title>Seconds against closure size: our save, no-op save and warm run beside the limits and cache-nix-action</title>",
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  for (let d = x0; d <= x1; d++) {
    out.push(`<line x1="${px(d)}" y1="${M.top}" x2="${px(d)}" y2="${H - M.bottom}" stroke="#ddd"/>`);
    out.push(`<text x="${px(d)}" y="${H - M.bottom + 16}" text-anchor="middle">${label(10 ** d)}</text>`);
  }
  for (let d = y0; d <= y1; d++) {
    out.push(`<line x1="${M.left}" y1="${py(d)}" x2="${W - M.right}" y2="${py(d)}" stroke="#ddd"/>`);
    out.push(
      `<text x="${M.left - 6}" y="${py(d) + 4}" text-anchor="end">${10 ** d >= 1 ? 10 ** d : (10 ** d).toFixed(-d)} s</text>`,
    );
  }
  out.push(
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">closure size (log scale); lines: 100 / 1,000 / 10,000 paths; open circles: the other graphs</text>`,
  );
  out.push(
    `<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">seconds (log scale)</text>`,
  );
  SERIES.forEach((s, i) => {
    const at = (r: Row) => [px(xOf(r)).toFixed(1), py(log(s.y(r))).toFixed(1)] as const;
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : "";
    const line = sorted.filter((r) => r.scaling).map((r) => at(r).join(","));
    if (line.length > 1)
      out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${line.join(" ")}"/>`);
    for (const r of sorted) {
      const [cx, cy] = at(r);
      const fill = r.scaling ? s.color : "white";
      out.push(
        `<circle cx="${cx}" cy="${cy}" r="3" fill="${fill}" stroke="${s.color}"><title>${esc(`${s.name}, ${r.what}: ${s.y(r).toFixed(2)} s`)}</title></circle>`,
      );
    }
    const ly = M.top + 14 + i * 20;
    out.push(
      `<line x1="${W - M.right + 16}" y1="${ly - 4}" x2="${W - M.right + 46}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${dash}/>`,
    );
    out.push(`<text x="${W - M.right + 52}" y="${ly}">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
