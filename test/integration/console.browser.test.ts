/**
 * The console in a real browser (Debian's Chromium, headless, driven by playwright-core; no browser
 * is downloaded): a user writes, the inbox shows it, the business replies with buttons, the user
 * taps one, and the inbox shows the tap and the reply read (two blue ticks); the events pushed out
 * (message.received, message.created, message.status) are listed as they are published. Saves a screenshot:
 * `UPDATE_CONSOLE_SCREENSHOT=1` writes the one the README shows (docs/console.png).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type Runtime } from '../../local/runtime.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available && process.env.CI) throw new Error(`Chromium is missing at ${CHROMIUM}: .ci/run installs it (apt-get install chromium)`);

/** Conditions are waited for, never timed: a loaded machine only makes them come later. */
const WAIT = { timeout: 30_000, interval: 100 };

const quiet = { info: () => {}, warn: () => {}, error: (m: string, e?: unknown) => console.error(m, e) };

describe.runIf(available)('the console in a browser', () => {
  let runtime: Runtime;
  let context: BrowserContext;
  let page: Page;
  const dirs: string[] = [];

  beforeAll(async () => {
    // Locator waits (waitFor) get the same patience as the polls.
    const dataDir = mkdtempSync(join(tmpdir(), 'wb-console-'));
    const profile = mkdtempSync(join(tmpdir(), 'wb-chromium-'));
    dirs.push(dataDir, profile);
    runtime = await startRuntime({ dataDir, fresh: true, ports: { api: 0, sandbox: 0, aws: 0, dynamodb: 0 }, logger: quiet });
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 980 },
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(WAIT.timeout);
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await runtime?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('runs a journey: a user writes, the business replies with buttons, the user taps one, the reply is read', async () => {
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    expect(runtime.info.consoleUrl).toBe(`${runtime.info.apiUrl}/console`);
    await page.goto(runtime.info.consoleUrl);
    // The page marks itself ready once its first load is done (its forms are handled from the start).
    await page.locator('html[data-ready=true]').waitFor();

    // A new user, picked in the users pane.
    const phone = `1650555${String(Date.now()).slice(-4)}`;
    await page.fill('#add-user input[name=phone]', phone);
    await page.fill('#add-user input[name=name]', 'Dana Browser');
    await page.click('#add-user button');
    await expect.poll(() => page.inputValue('#user-select'), WAIT).toBe(phone);

    // The user writes; the inbox shows the conversation and the message.
    await page.fill('#user-composer input[name=text]', 'Hi, is my order ready?');
    await page.click('#user-composer button');
    const conversation = page.locator(`#conversations li[data-contact="${phone}"]`);
    await conversation.waitFor();
    await conversation.click();
    await page.locator('#inbox .bubble[data-direction=inbound]', { hasText: 'Hi, is my order ready?' }).waitFor();
    await expect.poll(() => page.textContent('#window-state'), WAIT).toContain('window open');

    // The message.received pushed out for the text is listed, under the id the API answers for it.
    const thread = `${runtime.info.apiUrl}/v1/conversations/${runtime.info.phoneNumbers[0]!.phoneNumberId}/${phone}/messages`;
    const text = ((await (await fetch(thread)).json()) as { items: Array<{ id: string; type: string }> }).items.find((m) => m.type === 'text')!;
    const received = page.locator(`#domain-events li[data-type="message.received"][data-subject="${text.id}"]`);
    await received.waitFor();
    expect(await received.textContent()).toContain('message.received');

    // The business replies with two buttons.
    await page.fill('#reply input[name=text]', 'It is! Pick it up or have it delivered?');
    await page.fill('#reply input[name=buttons]', 'Pick up, Deliver');
    await page.click('#reply button');
    await expect.poll(() => page.textContent('#reply-result'), WAIT).toMatch(/^Sent \(msg_/);

    // The user sees the buttons and taps one.
    const deliver = page.locator('#phone .bubble[data-direction=outbound] .choices button', { hasText: 'Deliver' });
    await deliver.waitFor();
    await deliver.click();

    // The inbox shows the tap as an interactive reply to the business message, and the reply read.
    await page.locator('#inbox .bubble[data-direction=inbound]', { hasText: '↩ Deliver' }).waitFor();
    const reply = page.locator('#inbox .bubble[data-direction=outbound]', { hasText: 'Pick it up or have it delivered?' });
    await reply.locator('.ticks.read').waitFor({ timeout: 20_000 });
    expect(await reply.locator('.ticks.read').textContent()).toBe('✓✓');
    // The user's phone shows the same two blue ticks.
    await page.locator('#phone .bubble[data-direction=outbound] .ticks.read').waitFor();

    // The tap went to the API as WhatsApp sends it: a button_reply with the context of the message.
    const messages = (await (await fetch(thread)).json()) as { items: any[] };
    // Both are interactive; an inbound timestamp has whole seconds, so within one second the order of the two may vary.
    const tap = messages.items.find((m: { type: string; direction: string }) => m.type === 'interactive' && m.direction === 'inbound');
    const replied = messages.items.find((m: { direction: string }) => m.direction === 'outbound');
    expect(tap.content).toEqual({ type: 'button_reply', button_reply: { id: 'btn-2', title: 'Deliver' } });
    expect(tap.context.replyTo).toBe(replied.wamid);

    // Events of the topic are listed live.
    await page.locator('#events li', { hasText: 'message:interactive' }).first().waitFor();
    // Each envelope once: the user's text, then the reply's accepted, sent, delivered, read, then the tap.
    expect(await page.locator('#events li', { hasText: 'message:text' }).count()).toBe(1);
    expect(await page.locator('#events li', { hasText: 'status:read' }).count()).toBe(1);
    // The pushed events: the reply's creation and its read, each once, as subscribers receive them.
    await page.locator(`#domain-events li[data-type="message.status"][data-subject="${replied.id}"]`, { hasText: 'read' }).waitFor();
    expect(await page.locator(`#domain-events li[data-type="message.created"][data-subject="${replied.id}"]`).count()).toBe(1);
    expect(await received.count()).toBe(1);
    expect(errors).toEqual([]);

    const shot = process.env.UPDATE_CONSOLE_SCREENSHOT ? join(import.meta.dirname, '../../docs/console.png') : join(dirs[0]!, 'console.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot)).toBe(true);
  }, 120_000);
});
