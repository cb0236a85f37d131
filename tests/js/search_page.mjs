// Drives the search page of a running `clipembed serve --index NAME=DIR` in Debian's chromium
// (puppeteer-core, headless) as a user would, and prints one JSON object of what it saw for the
// calling test (tests/server/search_page_test.cc) to check; exits non-zero on any failure.
//   node search_page.mjs BASE_URL INDEX TEXT DROP_IMAGE SCREENSHOT
import http from "node:http";
import { readFileSync } from "node:fs";
import puppeteer from "puppeteer-core";

const [base, indexName, text, dropImage, screenshot] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const out = {};
try {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  await page.setViewport({ width: 1200, height: 900 });
  await page.goto(`${base}/`, { waitUntil: "networkidle0" });
  await page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
  out.about = await page.$eval("#about", (e) => e.textContent);

  // The grid's paths once every thumbnail has been shown.
  const grid = async () => {
    await page.waitForFunction(() => {
      const images = [...document.querySelectorAll("#results img")];
      return images.length > 0 && images.every((i) => i.complete && i.naturalWidth > 0);
    }, { timeout: 20000 });
    return page.$$eval("#results li", (items) => items.map((i) => i.dataset.path));
  };
  // The grid after an action, once the page has stopped talking to the server.
  const nextGrid = async (action) => {
    await action();
    await page.waitForNetworkIdle({ idleTime: 400, timeout: 20000 });
    return grid();
  };

  // Typing searches (debounced), and Enter at once; the grid shows the server's ranking.
  out.text = await nextGrid(async () => {
    await page.type("#query", text, { delay: 20 });
    await page.keyboard.press("Enter");
  });
  out.text_status = await page.$eval("#status", (e) => e.textContent);
  await page.screenshot({ path: screenshot });

  // Zero-shot labels of the first result.
  await page.type("#labels", "red circle, blue star, green square");
  await page.click("#results li:first-child button.label");
  await page.waitForSelector("#results li:first-child ul li", { timeout: 20000 });
  out.labels = await page.$$eval("#results li:first-child ul li", (l) => l.map((e) => e.textContent));

  // More like the first result.
  out.more = await nextGrid(() => page.click("#results li:first-child button.more"));

  // An image dropped on the page.
  const bytes = readFileSync(dropImage).toString("base64");
  out.drop = await nextGrid(() => page.evaluate((b64, name) => {
    const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([data], name, { type: "image/jpeg" }));
    document.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
  }, bytes, dropImage.split("/").pop()));

  // Accessibility: every control has a name, the focus order follows the page, text contrast.
  const tree = await page.accessibility.snapshot({ interestingOnly: false });
  const unnamed = [];
  const walk = (node) => {
    if (["textbox", "searchbox", "combobox", "button", "listbox"].includes(node.role) &&
        !(node.name || "").trim()) unnamed.push(node.role);
    for (const child of node.children || []) walk(child);
  };
  walk(tree);
  out.unnamed_controls = unnamed;
  // From the top of the page (a click on the heading moves the Tab starting point there).
  await page.click("h1");
  out.focus_order = [];
  for (let i = 0; i < 6; ++i) {
    await page.keyboard.press("Tab");
    out.focus_order.push(await page.evaluate(() => {
      const e = document.activeElement;
      return e.id || e.getAttribute("aria-label") || e.tagName;
    }));
  }
  out.low_contrast = await page.evaluate(() => {
    const rgb = (c) => c.match(/[\d.]+/g).map(Number);
    const luminance = ([r, g, b]) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (e) => {
      for (; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length < 4 || c[3] > 0) return c;
      }
      return [255, 255, 255];
    };
    const low = [];
    for (const e of document.querySelectorAll("body *")) {
      const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own || e.offsetParent === null) continue;
      const a = luminance(rgb(getComputedStyle(e).color)), b = luminance(background(e));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < 4.5) low.push(`${e.tagName}#${e.id}: ${ratio.toFixed(2)}`);
    }
    return low;
  });

  // At phone width nothing runs off the side.
  await page.setViewport({ width: 360, height: 740 });
  out.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth > 360);
  out.problems = problems;
} finally {
  await browser.close();
}

// Thumbnails by raw request targets (no client normalizes them): one that exists, and rows that
// are not rows of the index.
const status = (target) => new Promise((resolve, reject) => {
  const url = new URL(base);
  http.get({ host: url.hostname, port: url.port, path: target }, (response) => {
    response.resume();
    resolve(`${response.statusCode} ${response.headers["content-type"]}`);
  }).on("error", reject);
});
out.thumbnail = await status(`/v1/thumbnails/${indexName}/0?size=64`);
out.refused = {};
for (const target of [`/v1/thumbnails/${indexName}/..%2F..%2F..%2Fetc%2Fpasswd`,
                      `/v1/thumbnails/${indexName}/%2Fetc%2Fpasswd`, `/v1/thumbnails/${indexName}/-1`,
                      `/v1/thumbnails/${indexName}/1e2`, `/v1/thumbnails/${indexName}/99999`,
                      `/v1/thumbnails/${indexName}/0x1`, `/v1/thumbnails/..%2F${indexName}/0`,
                      `/v1/thumbnails/${indexName}/../../etc/passwd`]) {
  out.refused[target] = (await status(target)).split(" ")[0];
}
console.log(JSON.stringify(out));
