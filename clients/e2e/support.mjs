// Shared by the browser tests: the cluster scripts/browser-tests.sh started, Chromium, polling.
import { chromium } from 'playwright-core';

export const NODES = (process.env.E2E_NODES ?? 'http://127.0.0.1:24081,http://127.0.0.1:24082,http://127.0.0.1:24083').split(',');
export const ROOT = new URL('../../', import.meta.url).pathname;
export const SHOTS = `${ROOT}target/e2e`;
export const DEADLINE = 60_000;

/** Debian's Chromium, headless. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  });
}

/** Polls `condition` (async) until it is truthy or the deadline passes. */
export async function until(condition, what, ms = DEADLINE) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await condition().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A JSON request to a node with a session token; throws on a refusal. */
export async function api(base, path, token, init = {}) {
  const response = await fetch(`${base}${path}`, {
    ...init, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...(init.headers ?? {}) },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}
