// Shared by e2e.mjs and bench.mjs: a static server rooted at www/, Debian's
// Chromium through playwright-core, and the golden set.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export function readJsonl(file) {
  return readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Serves www/ with the plainest static server there is (python3's), on
 * loopback; QUARRY_E2E_URL points the tests at another server instead
 * (e.g. `quarry serve`, which serves www/ at `/`). */
export async function serveWww() {
  if (process.env.QUARRY_E2E_URL) return { url: process.env.QUARRY_E2E_URL.replace(/\/?$/, "/"), close: () => {} };
  const port = await freePort();
  const child = spawn("python3", ["-m", "http.server", "--bind", "127.0.0.1", "-d", path.join(ROOT, "www"), String(port)],
    { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr += d; });
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; ; i++) {
    try { if ((await fetch(url)).ok) break; } catch { /* not up yet */ }
    if (i > 100 || child.exitCode !== null) throw new Error(`static server did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, close: () => child.kill() };
}

export async function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** Opens the page and waits for the model; returns the page's own timings. */
export async function openPage(browser, url, problems) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  const t0 = Date.now();
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  const wall = Date.now() - t0;
  const state = await page.evaluate(() => document.body.dataset.ready);
  if (state !== "true") throw new Error(`page failed to load the model: ${await page.textContent("#status")}`);
  const timings = await page.evaluate(() => ({ ...window.quarryTimings }));
  return { page, timings: { ...timings, wallToReadyMs: wall } };
}

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
