// End to end in headless Chromium: an operator opens the status page, gives the token, holds and releases a store.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { send } from '../helpers/smtp-client.js';

const TOKEN = 'status-page-token-0123456789';
/** HOLDFAST_SCREENSHOTS=1 writes the screenshots of the docs; otherwise they go to a temp dir. */
const SCREENSHOTS = process.env.HOLDFAST_SCREENSHOTS === '1' ? 'docs/images' : undefined;

describe('the web status page', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  let browser: Browser;
  let page: Page;
  let profile: string;
  let shots: string;
  const store1 = new FakeMailstore();
  const store2 = new FakeMailstore();

  beforeAll(async () => {
    redis = await startTestRedis();
    const ports = { store1: await store1.start(), store2: await store2.start() };
    relay = await startRelay(testConfig(redis.url, ports, { admin: { port: 0, token: TOKEN } }));
    profile = mkdtempSync(join(tmpdir(), 'holdfast-chromium-'));
    shots = SCREENSHOTS ?? profile;
    mkdirSync(shots, { recursive: true });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  });

  afterAll(async () => {
    await browser?.close();
    await relay?.stop();
    await Promise.all([store1.stop(), store2.stop()]);
    await redis?.cleanup();
    rmSync(profile, { recursive: true, force: true });
  });

  const row = (store: string) => page.locator(`#stores tr[data-store="${store}"]`);

  it('asks for the token, then shows every store and refreshes by itself', async () => {
    await page.goto(`http://127.0.0.1:${relay.app.adminPort}/`);
    await page.locator('#login').waitFor({ state: 'visible' });
    await page.fill('#token', TOKEN);
    await page.click('#login button');
    await row('store1').waitFor();
    await expect.poll(() => row('store2').locator('.state').textContent()).toBe('open');
    expect(await page.locator('#stores tbody tr').count()).toBe(2);

    // Mail that arrives while the page is open shows up at the next refresh (every 5 s).
    await relay.app.mailstoreAdmin!.hold('store1', { reason: 'disk errors on store1', by: 'ops' });
    await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'waiting');
    await expect.poll(() => row('store1').locator('td').nth(2).textContent(), { timeout: 15_000 }).toBe('1');
    await page.screenshot({ path: join(shots, 'status-page.png') });
  });

  it('holds and releases a store with a reason, and lists both in recent events', async () => {
    page.once('dialog', (dialog) => void dialog.accept('kernel upgrade'));
    await row('store2').locator('button').click();
    await expect.poll(() => row('store2').locator('.state').textContent()).toBe('held');
    expect(await row('store2').locator('.detail').textContent()).toContain('kernel upgrade (by status page');
    await expect.poll(() => page.locator('#events').textContent()).toContain('store2: open → held');

    page.once('dialog', (dialog) => void dialog.accept('upgrade done'));
    await row('store2').locator('button').click();
    await expect.poll(() => row('store2').locator('.state').textContent()).toMatch(/releasing|open/);
    expect(await page.locator('#events').textContent()).toContain('upgrade done');
    await page.screenshot({ path: join(shots, 'status-page-events.png'), fullPage: true });
  });
});
