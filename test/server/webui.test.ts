// The chat page at GET /, in a real headless Chromium (Debian's chromium, driven by playwright-core):
// it loads, streams a reply from the built-in model, keeps the conversation across a reload, edits and
// regenerates, asks for the API key, and stops a reply. TSLLM_REQUIRE_CHROMIUM=1 (CI) fails rather
// than skips when no Chromium is installed; CHROMIUM_PATH names another binary.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { BUILTIN_MODEL } from '../../src/model/load-model.js';
import { REPO_ROOT, modelDir, readJson } from '../helpers/fixtures.js';
import { eventually, metricValue, startServer } from '../helpers/server.js';

const CHROMIUM = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && fs.existsSync(p));
const REQUIRED = process.env['TSLLM_REQUIRE_CHROMIUM'] === '1';
const ARTEFACTS = path.join(REPO_ROOT, 'test-artifacts');
const skip = !CHROMIUM && !REQUIRED ? 'no Chromium installed (apt-get install chromium)' : false;

describe('the web chat page', { skip }, () => {
  let browser: Browser;
  before(async () => {
    assert.ok(CHROMIUM, 'TSLLM_REQUIRE_CHROMIUM=1 but no Chromium is installed');
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });
  after(() => browser?.close());

  async function setField(page: Page, id: string, value: string) {
    if (await page.locator('#settings').isHidden()) await page.click('#toggle-settings');
    await page.fill(`#${id}`, value);
    await page.dispatchEvent(`#${id}`, 'change');
  }

  const lastReply = (page: Page) => page.locator('.message.assistant').last();

  it('streams a reply from the built-in model, keeps it across a reload, edits and regenerates', async () => {
    const s = await startServer({ model: BUILTIN_MODEL, kvCacheMemory: 8 << 20 }, { servedModelName: 'stories260K' });
    const page = await browser.newPage();
    try {
      await page.goto(s.url);
      await page.locator('#model', { hasText: 'stories260K' }).waitFor();
      await setField(page, 'temperature', '0');
      await page.fill('#input', 'Once upon a time');
      await page.press('#input', 'Enter');
      await lastReply(page).locator('.stats').waitFor({ timeout: 30_000 });

      // Greedy, with no chat template: the story run.c tells for the same prompt.
      const golden = readJson(path.join(modelDir('stories260K'), 'golden.json'));
      const once = golden.prompted.find((p: { prompt_text: string }) => p.prompt_text === 'Once upon a time');
      const reply = await lastReply(page).locator('.body').textContent();
      assert.ok(reply!.startsWith(once.text_runc_decode), reply!);
      const stats = await lastReply(page).locator('.stats').textContent();
      assert.match(stats!, /^\d+ tokens · [\d.]+ tokens\/s · TTFT \d+ ms$/);
      assert.ok(Number(/^(\d+)/.exec(stats!)![1]) > 64);
      fs.mkdirSync(ARTEFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTEFACTS, 'webui.png'), fullPage: true });

      // The conversation lives in the browser's storage.
      await page.reload();
      await page.locator('#model', { hasText: 'stories260K' }).waitFor();
      assert.equal(await page.locator('#conversations li').count(), 1);
      assert.equal(await lastReply(page).locator('.body').textContent(), reply);

      // Editing the message regenerates the reply from the edited text.
      await page.locator('.message.user .edit').click();
      await page.fill('.message.user textarea', 'The cat sat');
      await page.locator('.message.user .save').click();
      await eventually(async () => ((await page.locator('.message.assistant .stats').count()) === 1 && !(await page.locator('#stop').isVisible()) ? true : undefined), 30_000);
      const edited = await lastReply(page).locator('.body').textContent();
      const expected = await s.client.completions.create({ model: 'stories260K', prompt: 'The cat sat', temperature: 0, max_tokens: 32 });
      assert.ok(edited!.startsWith(expected.choices[0]!.text), edited!);
      assert.equal(await page.locator('.message.user .body').textContent(), 'The cat sat');

      // Regenerate at temperature 0 writes the same reply again.
      await lastReply(page).locator('.regenerate').click();
      await eventually(async () => (!(await page.locator('#stop').isVisible()) && (await lastReply(page).locator('.stats').count()) === 1 ? true : undefined), 30_000);
      assert.equal(await lastReply(page).locator('.body').textContent(), edited);
    } finally {
      await page.close();
      await s.close();
    }
  });

  it('asks for the API key, and Stop ends a reply (the server sees the request aborted)', async () => {
    // The demo model on the TypeScript kernels writes about 100 tokens/s, and greedily never its EOS:
    // a reply that would run for seconds, so Stop lands in the middle of it.
    const s = await startServer({ model: 'demo', loadFormat: 'dummy', backend: 'reference', kvCacheMemory: 8 << 20 }, { servedModelName: 'demo', apiKey: 'sesame' });
    const page = await browser.newPage();
    try {
      await page.goto(s.url);
      await page.locator('#key-dialog').waitFor();
      await page.fill('#key-input', 'sesame');
      await page.click('#key-ok');
      await page.locator('#model', { hasText: 'demo' }).waitFor();
      await setField(page, 'temperature', '0');
      await page.fill('#input', 'Hello');
      await page.click('#send');
      await eventually(async () => ((await lastReply(page).locator('.body').textContent())!.length > 0 ? true : undefined), 30_000);
      await page.click('#stop');
      await lastReply(page).locator('.stats', { hasText: 'stopped' }).waitFor();
      const tokens = Number(/(\d+) tokens/.exec((await lastReply(page).locator('.stats').textContent())!)![1]);
      assert.ok(tokens > 0 && tokens < 1000, `${tokens} tokens`);
      const metrics = await eventually(async () => {
        const text = await (await fetch(`${s.url}/metrics`)).text();
        return metricValue(text, 'tsllm:request_success_total', { finished_reason: 'abort' }) === 1 ? text : undefined;
      });
      assert.equal(metricValue(metrics, 'tsllm:request_success_total', { finished_reason: 'length' }) ?? 0, 0);
      assert.equal(await page.evaluate(() => JSON.parse(localStorage.getItem('tsllm.settings')!).api_key), 'sesame');
    } finally {
      await page.close();
      await s.close();
    }
  });
});

it('--no-webui (webui: false) leaves GET / unrouted; otherwise it is the self-contained page', async () => {
  const on = await startServer({ model: 'demo', loadFormat: 'dummy', kvCacheMemory: 8 << 20 });
  const off = await startServer({ model: 'demo', loadFormat: 'dummy', kvCacheMemory: 8 << 20 }, { webui: false });
  try {
    const page = await fetch(`${on.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    assert.match(page.headers.get('content-security-policy')!, /default-src 'none'/);
    const html = await page.text();
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|https?:\/\//);
    assert.equal((await fetch(`${off.url}/`)).status, 404);
  } finally {
    await on.close();
    await off.close();
  }
});
