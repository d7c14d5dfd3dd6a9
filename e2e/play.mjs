// play.mjs drives headless Chromium (through playwright-core) to a page served by
// the Go helper hlstest.HLSJSPlay, waits until the page's hls.js player has played
// long enough, hit a fatal error, or ran out of time, and prints one JSON object
// on stdout. It decides nothing: the Go side judges the result.
//
// Usage: node play.mjs '<json config>'
//   {pageURL, chromium, userDataDir, minSeconds, timeoutMs}
//
// Exit status: 0 when a result was printed (even a failed playback), 2 when the
// harness itself failed (message on stderr).

import { chromium } from 'playwright-core';

const POLL_MS = 200;

function parseConfig() {
  if (process.argv.length < 3) {
    throw new Error('usage: node play.mjs <json config>');
  }
  const cfg = JSON.parse(process.argv[2]);
  for (const k of ['pageURL', 'chromium', 'userDataDir']) {
    if (typeof cfg[k] !== 'string' || cfg[k] === '') {
      throw new Error(`config: ${k} is required`);
    }
  }
  cfg.minSeconds = Number(cfg.minSeconds) || 0;
  cfg.timeoutMs = Number(cfg.timeoutMs) || 60000;
  return cfg;
}

// playwright adds --headless itself (headless: true). Flags the machine needs
// (no sandbox as root, no GPU) and flags that keep the
// browser from talking to anything but 127.0.0.1: the host resolver maps every
// name except loopback to NOTFOUND, and background services are off.
function chromiumArgs() {
  return [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--disable-client-side-phishing-detection',
    '--disable-domain-reliability',
    '--no-proxy-server',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
    '--autoplay-policy=no-user-gesture-required',
  ];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const cfg = parseConfig();
  const deadline = Date.now() + cfg.timeoutMs;
  const consoleErrors = [];
  const failedRequests = [];
  const httpErrors = [];
  let timedOut = false;
  let state = null;
  const t0 = Date.now();
  const timings = { launchMs: 0, loadMs: 0, playingMs: 0, totalMs: 0 };

  const context = await chromium.launchPersistentContext(cfg.userDataDir, {
    executablePath: cfg.chromium,
    headless: true,
    chromiumSandbox: false,
    args: chromiumArgs(),
    ...(cfg.userAgent ? { userAgent: cfg.userAgent } : {}),
    timeout: Math.max(1000, Math.min(30000, deadline - Date.now())),
  });
  timings.launchMs = Date.now() - t0;
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e?.message ?? e}`));
    page.on('requestfailed', (r) => {
      failedRequests.push({ url: r.url(), error: r.failure()?.errorText ?? '' });
    });
    page.on('response', (r) => {
      if (r.status() >= 400) httpErrors.push({ url: r.url(), status: r.status() });
    });

    await page.goto(cfg.pageURL, {
      waitUntil: 'load',
      timeout: Math.max(1000, deadline - Date.now()),
    });
    timings.loadMs = Date.now() - t0;
    for (;;) {
      state = await page.evaluate(() => window.__hlstest);
      if (state?.playing && !timings.playingMs) timings.playingMs = Date.now() - t0;
      if (state && (state.done || (state.playing && state.played >= cfg.minSeconds))) break;
      if (Date.now() + POLL_MS >= deadline) {
        timedOut = true;
        break;
      }
      await sleep(POLL_MS);
    }
  } finally {
    await context.close().catch(() => {});
  }
  timings.totalMs = Date.now() - t0;
  const out = {
    ...(state ?? {}),
    timedOut,
    consoleErrors,
    failedRequests,
    httpErrors,
    timings,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`play.mjs: ${err?.stack ?? err}\n`);
    process.exit(2);
  },
);
