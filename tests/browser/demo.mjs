// `switchboard serve --demo` on a free loopback port, started from an empty
// directory (the built-in policies and connectors must be enough), and
// headless Chromium to drive its console.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const binary = process.env.BINARY;
export const screenshots = process.env.SCREENSHOTS ?? join(tmpdir(), 'switchboard-screenshots');

/** A port nobody listens on right now. */
async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts the demo; resolves once it serves, with its base URL. */
export async function startDemo() {
  if (!binary) throw new Error('BINARY names the switchboard binary (see tests/browser/run)');
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-console-'));
  const port = await freePort();
  const child = spawn(
    binary,
    ['--log-format', 'json', 'serve', '--demo', '--listen', `127.0.0.1:${port}`],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const log = [];
  const serving = new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stderr });
    lines.on('line', (line) => {
      log.push(line);
      if (line.includes('"message":"serving"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the demo exited (${code}):\n${log.join('\n')}`)));
  });
  const timeout = new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`the demo did not start:\n${log.join('\n')}`)), 120_000).unref(),
  );
  await Promise.race([serving, timeout]);
  return {
    base: `http://127.0.0.1:${port}`,
    log,
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium as the machine's package installs it. */
export async function launchBrowser() {
  mkdirSync(screenshots, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-quic',
      '--no-first-run',
      '--disable-sync',
    ],
  });
}
