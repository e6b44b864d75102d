// The reference console, clicked through in headless Chromium as the help
// article's people would: scenario 1 (a shared Semrush key), scenario 2
// (Bob signs in to SharePoint through the Microsoft mock's page and back),
// live suspension, denials and keyboard-only use. Each step asserts what
// the person sees; a screenshot of each page lands in SCREENSHOTS.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { launchBrowser, screenshots, startDemo } from './demo.mjs';

let demo;
let browser;

before(async () => {
  demo = await startDemo();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  demo?.stop();
});

/** A fresh browser (its own session storage and cookies) as `persona`. */
async function as(persona) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  // Script errors and CSP violations; not the browser's note of each
  // refusal the page asked for and shows (a 4xx answer).
  page.on('console', (message) => {
    const refusal = /^Failed to load resource: the server responded with a status of 4\d\d/;
    if (message.type() === 'error' && !refusal.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${demo.base}/console/`);
  await page.getByLabel('Acting as').selectOption({ label: persona });
  await page.getByRole('button', { name: 'Switch' }).click();
  await page.getByRole('heading', { level: 1, name: 'Integrations', exact: true }).waitFor();
  page.problems = problems;
  return page;
}

async function shoot(page, name) {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

/** The card of an integration, by its heading. */
function card(page, name) {
  return page.getByRole('article', { name });
}

test('scenario 1: Ada sets the workspace Semrush key; Bob runs a keyword search with it', async () => {
  const ada = await as('Ada, admin');
  await ada.getByRole('link', { name: 'Team integrations' }).click();
  const semrush = card(ada, 'Semrush');
  await semrush.waitFor();
  await shoot(ada, 'team-integrations-ada');

  // The demo enabled Semrush already: disable it, then enable it again in
  // workspace mode, as an admin would the first time.
  await semrush.getByRole('button', { name: 'Disable' }).click();
  const dialog = ada.getByRole('dialog', { name: 'Disable Semrush?' });
  await dialog.getByText('Nobody in the workspace can use it until it is enabled again.').waitFor();
  await dialog.getByRole('button', { name: 'Disable' }).click();
  await semrush.getByRole('button', { name: 'Enable in workspace mode' }).click();
  await semrush.getByText(/Enabled in workspace mode/i).waitFor();
  // The key set before is still there: remove it, to set one afresh.
  await semrush.getByRole('button', { name: 'Remove key' }).click();
  await ada.getByRole('dialog').getByRole('button', { name: 'Remove key' }).click();
  await semrush.getByRole('button', { name: 'Save key' }).waitFor();

  // A wrong key: the service's reason is shown and nothing is saved.
  const key = semrush.getByLabel('Workspace API key');
  await key.fill('not-a-real-key');
  await semrush.getByRole('button', { name: /Save key|Replace key/ }).click();
  const refusal = semrush.getByRole('alert');
  await refusal.waitFor();
  assert.match(await refusal.innerText(), /ERROR 131 :: INVALID KEY|key/i);
  assert.equal(await semrush.getByText('10,000 API units left').count(), 0);
  assert.equal(await semrush.getByRole('button', { name: 'Save key' }).count(), 1, 'nothing saved');
  await shoot(ada, 'team-integrations-wrong-key');

  // The right one, pasted with a trailing space.
  await key.fill('demo-semrush-key ');
  await semrush.getByRole('button', { name: /Save key|Replace key/ }).click();
  await semrush.getByText(/10,000 API units left/).waitFor();
  assert.equal(await key.inputValue(), '', 'the key is never shown back');

  // Bob: Semrush is a workspace integration, and "Try it" returns rows.
  const bob = await as('Bob, member');
  await bob.getByRole('heading', { name: 'Workspace integrations' }).waitFor();
  await card(bob, 'Semrush').waitFor();
  await bob.getByLabel('Integration', { exact: true }).selectOption({ label: 'Semrush' });
  await bob.getByLabel('Action').selectOption('keyword_overview');
  await bob.getByLabel('Input (JSON)').fill('{"phrase": "seo"}');
  await bob.getByRole('button', { name: 'Run' }).click();
  const result = bob.getByLabel('Result');
  await result.getByRole('cell', { name: 'seo', exact: true }).waitFor();
  await shoot(bob, 'integrations-bob-try-it');
  assert.deepEqual([...ada.problems, ...bob.problems], []);
  await ada.context().close();
  await bob.context().close();
});

test('scenario 2 and live updates: Bob connects SharePoint through the sign-in page; Ada disabling it suspends his open page', async () => {
  const bob = await as('Bob, member');
  const sharepoint = card(bob, 'SharePoint');
  await sharepoint.getByText('Not connected').waitFor();
  await sharepoint.getByRole('button', { name: 'Connect' }).click();

  // Microsoft's page (the mock's), then back to the console.
  await bob.getByRole('heading', { name: 'Permissions requested' }).waitFor();
  assert.match(await bob.content(), /Adele Vance/);
  await shoot(bob, 'microsoft-sign-in');
  await bob.getByRole('button', { name: 'Accept' }).click();
  await bob.waitForURL(`${demo.base}/console/**`);
  await bob.getByText('Connected to sharepoint as Adele Vance.').waitFor();
  await sharepoint.getByText(/Connected as Adele Vance/).waitFor();
  await sharepoint.getByText('Permissions granted (5)').click();
  assert.match(await sharepoint.innerText(), /Files\.Read\.All/);
  assert.equal(new URL(bob.url()).search, '', 'the outcome is not left in the address bar');
  await shoot(bob, 'integrations-bob-connected');

  await bob.getByLabel('Integration', { exact: true }).selectOption({ label: 'SharePoint' });
  await bob.getByLabel('Action').selectOption('search');
  await bob.getByLabel('Input (JSON)').fill('{"query": "brand voice"}');
  await bob.getByRole('button', { name: 'Run' }).click();
  await bob.getByLabel('Result').getByText('Brand voice guidelines.txt').first().waitFor();

  // Ada disables SharePoint while Bob's page is open: it turns suspended.
  const ada = await as('Ada, admin');
  await ada.getByRole('link', { name: 'Team integrations' }).click();
  const adas = card(ada, 'SharePoint');
  await adas.getByRole('button', { name: 'Disable' }).click();
  const dialog = ada.getByRole('dialog', { name: 'Disable SharePoint?' });
  await dialog.getByText("1 member's connection will be suspended until it is enabled again.").waitFor();
  await dialog.getByRole('button', { name: 'Disable' }).click();
  await adas.getByRole('button', { name: 'Enable in user mode' }).waitFor();
  await sharepoint.getByText(/Suspended/).waitFor({ timeout: 10_000 });
  await shoot(bob, 'integrations-bob-suspended');

  // Re-enabled: restored, still without a reload.
  await adas.getByRole('button', { name: 'Enable in user mode' }).click();
  await sharepoint.getByText(/Connected as Adele Vance/).waitFor({ timeout: 10_000 });

  // Bob disconnects.
  await sharepoint.getByRole('button', { name: 'Disconnect' }).click();
  const confirm = bob.getByRole('dialog');
  if (await confirm.isVisible()) await confirm.getByRole('button', { name: 'Disconnect' }).click();
  await sharepoint.getByText('Not connected').waitFor();
  assert.deepEqual([...ada.problems, ...bob.problems], []);
  await ada.context().close();
  await bob.context().close();
});

test('a member sees the policy reason, not controls; another plan sees the Business-plan message', async () => {
  const bob = await as('Bob, member');
  await bob.getByRole('link', { name: 'Team integrations' }).click();
  await bob.getByText('Only Admins and Developers can manage team integrations').waitFor();
  for (const control of ['Disable', 'Enable in workspace mode', 'Enable in user mode', 'Save key']) {
    assert.equal(await bob.getByRole('button', { name: control }).count(), 0, control);
  }
  await shoot(bob, 'team-integrations-bob-denied');

  const frank = await as('Frank, admin on the Starter plan');
  await frank.getByText('Integration management is available on the Business plan').waitFor();
  await frank.getByText('Upgrade to the Business plan').waitFor();
  await shoot(frank, 'integrations-frank-upgrade');
  await bob.context().close();
  await frank.context().close();
});

test('keyboard only: Ada enables an integration with Tab and Enter', async () => {
  const ada = await as('Ada, admin');
  await ada.getByRole('link', { name: 'Team integrations' }).click();
  const sharepoint = card(ada, 'SharePoint');
  await sharepoint.getByRole('button', { name: 'Disable' }).click();
  await ada.getByRole('dialog').getByRole('button', { name: 'Disable' }).click();
  const enable = sharepoint.getByRole('button', { name: 'Enable in user mode' });
  await enable.waitFor();

  // From the top of the page, Tab until the button has focus, then Enter.
  await ada.locator('body').focus();
  let reached = false;
  for (let presses = 0; presses < 80 && !reached; presses += 1) {
    await ada.keyboard.press('Tab');
    reached = await enable.evaluate((button) => button === document.activeElement);
  }
  assert.ok(reached, 'Tab reaches "Enable in user mode"');
  const outline = await enable.evaluate((button) => getComputedStyle(button).outlineStyle);
  assert.notEqual(outline, 'none', 'focus is visible');
  await shoot(ada, 'team-integrations-keyboard-focus');
  await ada.keyboard.press('Enter');
  await sharepoint.getByText(/Enabled in user mode/i).waitFor();
  assert.deepEqual(ada.problems, []);
  await ada.context().close();
});

test('a host hands the console a session in the link; a crafted outcome link shows nothing', async () => {
  const opened = await fetch(`${demo.base}/v1/sessions`, {
    method: 'POST',
    headers: { authorization: 'Bearer demo-token', 'content-type': 'application/json' },
    body: JSON.stringify({ workspace: 'demo', user: 'carol', role: 'member', plan: 'business' }),
  }).then((r) => r.json());
  const context = await browser.newContext();
  const carol = await context.newPage();
  await carol.goto(`${demo.base}/console/#token=${opened.token}`);
  await carol.getByRole('heading', { level: 1, name: 'Integrations', exact: true }).waitFor();
  await carol.getByText('carol', { exact: true }).first().waitFor();
  assert.doesNotMatch(carol.url(), /token/, 'the token leaves the address bar');

  // Someone else's link claiming a sign-in this tab never began.
  await carol.goto(`${demo.base}/console/?integration=sharepoint&status=connected&reason=Call+0800+to+unlock`);
  await carol.getByRole('heading', { level: 1, name: 'Integrations', exact: true }).waitFor();
  assert.equal(await carol.getByText('Call 0800 to unlock').count(), 0);
  assert.equal(new URL(carol.url()).search, '');
  await context.close();
});

test('Zendesk: Ada enters the subdomain and an agent email and token; Carol searches tickets', async () => {
  const ada = await as('Ada, admin');
  await ada.getByRole('link', { name: 'Team integrations' }).click();
  const zendesk = card(ada, 'Zendesk');
  await zendesk.waitFor();
  const subdomain = zendesk.getByLabel('Zendesk subdomain');
  await zendesk.getByText('The first part of your Zendesk address: acme for acme.zendesk.com.').waitFor();

  // Not a host name's part: refused with the reason, nothing enabled.
  await subdomain.fill('Acme Corp');
  await zendesk.getByRole('button', { name: 'Enable in workspace mode' }).click();
  const refusal = zendesk.getByRole('alert');
  await refusal.getByText(/Zendesk subdomain/).waitFor();
  assert.equal(await zendesk.getByText(/Enabled in workspace mode/i).count(), 0);

  await subdomain.fill('acme ');
  await zendesk.getByRole('button', { name: 'Enable in workspace mode' }).click();
  await zendesk.getByText(/Enabled in workspace mode/i).waitFor();
  assert.equal(await zendesk.getByLabel('Zendesk subdomain').inputValue(), 'acme');

  // Two fields: the email shows as typed, the token as dots.
  const email = zendesk.getByLabel('Agent email');
  const token = zendesk.getByLabel('API token');
  assert.equal(await email.getAttribute('type'), 'text');
  assert.equal(await token.getAttribute('type'), 'password');
  await email.fill('ada@acme.test');
  await token.fill('wrong-token');
  await zendesk.getByRole('button', { name: 'Save key' }).click();
  await zendesk.getByRole('alert').getByText(/Couldn't authenticate you/).waitFor();
  await token.fill('demo-zendesk-token ');
  await zendesk.getByRole('button', { name: /Save key|Replace key/ }).click();
  await zendesk.getByText('Key set: Ada Lovelace <ada@acme.test>').waitFor();
  assert.equal(await token.inputValue(), '', 'the token is never shown back');
  await shoot(ada, 'team-integrations-zendesk');

  const carol = await as('Carol, member');
  await carol.getByLabel('Integration', { exact: true }).selectOption({ label: 'Zendesk' });
  await carol.getByLabel('Action').selectOption('recent_tickets');
  await carol.getByLabel('Input (JSON)').fill('{"limit": 3}');
  await carol.getByRole('button', { name: 'Run' }).click();
  const result = carol.getByLabel('Result');
  await result.getByRole('columnheader', { name: /subject/i }).waitFor();
  assert.equal(await result.locator('tbody tr').count(), 3, 'the three tickets asked for');
  await shoot(carol, 'integrations-zendesk-try-it');

  // Another subdomain is another account: Ada is told the key goes, may
  // keep things as they are, and once she saves, the key is gone.
  await ada.reload();
  const moved = card(ada, 'Zendesk');
  await moved.getByLabel('Zendesk subdomain').fill('globex');
  await moved.getByRole('button', { name: 'Save settings' }).click();
  const ask = ada.getByRole('dialog', { name: "Change Zendesk's settings?" });
  await ask.getByText('One checked at the old address is not sent to the new one, so the saved key will be removed.').waitFor();
  await ask.getByRole('button', { name: 'Cancel' }).click();
  await moved.getByText('Key set: Ada Lovelace <ada@acme.test>').waitFor();
  await moved.getByRole('button', { name: 'Save settings' }).click();
  await ask.getByRole('button', { name: 'Save settings' }).click();
  await moved.getByRole('button', { name: 'Save key' }).waitFor();
  assert.equal(await moved.getByText(/Key set:/).count(), 0);
  await carol.getByRole('button', { name: 'Run' }).click();
  await carol.getByText('zendesk has no workspace credential; an admin must set one').waitFor();
  // Back to acme, where the token is entered again.
  await moved.getByLabel('Zendesk subdomain').fill('acme');
  await moved.getByRole('button', { name: 'Save settings' }).click();
  await moved.getByLabel('Agent email').fill('ada@acme.test');
  await moved.getByLabel('API token').fill('demo-zendesk-token');
  await moved.getByRole('button', { name: 'Save key' }).click();
  await moved.getByText('Key set: Ada Lovelace <ada@acme.test>').waitFor();

  // Disabled, the key stays; enabling it at another subdomain asks first,
  // and at the same one it comes back with the key.
  await moved.getByRole('button', { name: 'Disable' }).click();
  await ada.getByRole('dialog', { name: 'Disable Zendesk?' }).getByRole('button', { name: 'Disable' }).click();
  await moved.getByRole('button', { name: 'Enable in workspace mode' }).waitFor();
  await moved.getByLabel('Zendesk subdomain').fill('globex');
  await moved.getByRole('button', { name: 'Enable in workspace mode' }).click();
  const reenable = ada.getByRole('dialog', { name: 'Enable Zendesk with other settings?' });
  await reenable.getByText('so the saved key will be removed.').waitFor();
  await reenable.getByRole('button', { name: 'Cancel' }).click();
  assert.equal(await moved.getByText(/Enabled in workspace mode/i).count(), 0);
  await moved.getByLabel('Zendesk subdomain').fill('acme');
  await moved.getByRole('button', { name: 'Enable in workspace mode' }).click();
  await moved.getByText(/Enabled in workspace mode/i).waitFor();
  await moved.getByText('Key set: Ada Lovelace <ada@acme.test>').waitFor();
  assert.deepEqual(ada.problems, []);
  assert.deepEqual(carol.problems, []);
  await ada.context().close();
  await carol.context().close();
});
