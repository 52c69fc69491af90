// Rewrites the provider table in README.md from the provider modules (after `npm run build`).
import { readFileSync, writeFileSync } from "node:fs";
import { providerTable } from "../dist/providers/table.js";

const readme = new URL("../README.md", import.meta.url);
const text = readFileSync(readme, "utf8");
const updated = text.replace(
  /(<!-- providers:start -->\n)[\s\S]*?(<!-- providers:end -->)/,
  (_, start, end) => `${start}${providerTable()}\n${end}`,
);
if (updated === text && !text.includes("<!-- providers:start -->")) throw new Error("README.md has no provider table markers");
writeFileSync(readme, updated);
