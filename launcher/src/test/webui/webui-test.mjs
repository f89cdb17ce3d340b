// Drives Zhiku's web UI in Debian's chromium (playwright-core, never a downloaded browser).
//   node webui-test.mjs --base URL --keyed-base URL --key KEY --out DIR
// Each scenario prints its time and saves a screenshot under --out; exit code 0 when all pass.
import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).join(' ').split(/\s*--/).filter(Boolean).map(a => a.split(/\s+/, 2)));
const BASE = args.base;
const KEYED = args['keyed-base'];
const KEY = args.key;
const OUT = args.out || 'screenshots';
const CHROMIUM = process.env.ZHIKU_CHROMIUM || '/usr/bin/chromium';
mkdirSync(OUT, { recursive: true });

const KB = 'webui_' + Date.now().toString(36);
const MODEL = 'internlm2-tiny';
const FACT = 'The Zhiku lighthouse on Pine Island was built in 1897 and its lamp is green.';

function assert(cond, message) { if (!cond) throw new Error('assertion failed: ' + message); }
const sleep = ms => new Promise(r => setTimeout(r, ms));

/** A one-page PDF whose text is `text` in Helvetica, with a correct cross-reference table. */
function minimalPdf(text) {
  const esc = text.replace(/[\\()]/g, c => '\\' + c);
  const stream = `BT /F1 14 Tf 72 720 Td (${esc}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${Buffer.byteLength(stream)} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let pdf = '%PDF-1.4\n';
  const offsets = objects.map((o, i) => { const at = Buffer.byteLength(pdf); pdf += `${i + 1} 0 obj\n${o}\nendobj\n`; return at; });
  const xref = Buffer.byteLength(pdf);
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n` + offsets.map(o => String(o).padStart(10, '0') + ' 00000 n \n').join('');
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

const MARKDOWN = `# Pine Island guide\n\n${FACT}\n\n## Ferries\n\n- The ferry leaves at 9:00 and 15:00.\n- Tickets cost 12 yuan.\n\n| day | ferries |\n|---|---|\n| Mon | 2 |\n`;
const PDF = minimalPdf('Pine Island has a fishing harbour and a small museum about the ferry company.');

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
// playwright gives each context its own fresh profile directory (the --user-data-dir)
const results = [];
let page;
let failed = false;

async function newPage(opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, locale: 'en-US', ...opts });
  await context.grantPermissions(['clipboard-read', 'clipboard-write']).catch(() => {});
  const p = await context.newPage();
  p.on('pageerror', e => { console.log('  page error: ' + e.message); failed = true; });
  p.on('console', m => { if (m.type() === 'error' && !/status of (400|401|404)/.test(m.text())) console.log('  console error: ' + m.text()); });
  p.setDefaultTimeout(15000);
  return p;
}

async function scenario(name, fn) {
  const start = Date.now();
  try {
    await fn();
    results.push([name, 'ok', Date.now() - start]);
    console.log(`ok   ${name} (${Date.now() - start} ms)`);
  } catch (e) {
    failed = true;
    results.push([name, 'FAIL', Date.now() - start]);
    console.log(`FAIL ${name} (${Date.now() - start} ms): ${e.stack || e}`);
  } finally {
    if (page && !page.isClosed()) await shot(name);
  }
}

/** A screenshot; a knowledge base's page scrolls inside its panel, so it is taken in a taller window. */
async function shot(name) {
  const tall = /kb-(upload|retrieval)/.test(name);
  const size = page.viewportSize();
  if (tall) await page.setViewportSize({ width: size.width, height: 1500 });
  await page.screenshot({ path: join(OUT, name + '.png') }).catch(() => {});
  if (tall) await page.setViewportSize(size);
}

async function setNumber(selector, value) {
  const closed = !await page.locator(selector).isVisible();
  if (closed) await page.locator('details.settings > summary').click();
  await page.locator(selector).fill(String(value));
  await page.locator(selector).dispatchEvent('change');
  if (closed) await page.locator('details.settings > summary').click();
}

/** Sends a chat message; resolves the distinct text lengths the reply had while streaming. */
async function sendAndWatch(text) {
  await page.evaluate(() => {
    window.__lengths = new Set();
    const box = document.getElementById('messages');
    window.__obs?.disconnect();
    window.__obs = new MutationObserver(() => {
      const md = box.querySelector('.msg.assistant:last-child .md');
      if (md) window.__lengths.add(md.textContent.length);
    });
    window.__obs.observe(box, { childList: true, subtree: true, characterData: true });
  });
  await page.locator('#prompt').fill(text);
  await page.locator('#send').click();
}

const lastReply = () => page.locator('.msg.assistant').last();

try {
  await scenario('01-load', async () => {
    page = await newPage();
    const t0 = Date.now();
    await page.goto(BASE + '/');
    await page.locator(`#model option[value="${MODEL}"]`).waitFor({ state: 'attached' });
    const ready = Date.now() - t0;
    const perf = await page.evaluate(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource').filter(r => r.name.includes('/assets/'));
      const all = [nav, ...res];
      return { bad: all.filter(r => r.responseStatus && r.responseStatus !== 200).map(r => r.name + ' ' + r.responseStatus),
        fcp: fcp ? fcp.startTime : null, dcl: nav.domContentLoadedEventEnd, files: all.length,
        decoded: all.reduce((s, r) => s + r.decodedBodySize, 0), encoded: all.reduce((s, r) => s + r.encodedBodySize, 0) };
    });
    assert(perf.fcp != null, 'a first-contentful-paint entry');
    assert(perf.bad.length === 0, 'every asset loads: ' + perf.bad);
    assert(perf.files >= 8, 'index.html and its assets: ' + perf.files);
    console.log(`  first-contentful-paint ${perf.fcp.toFixed(0)} ms, DOMContentLoaded ${perf.dcl.toFixed(0)} ms, models listed after ${ready} ms`);
    console.log(`  page assets: ${perf.files} files, ${perf.decoded} bytes, ${perf.encoded} bytes as sent (gzip)`);
    // four more cold loads (new profile each: nothing cached) for a steadier first-paint figure
    const fcps = [perf.fcp];
    for (let i = 0; i < 4; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
      const p = await ctx.newPage();
      await p.goto(BASE + '/');
      await p.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0);
      fcps.push(await p.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0].startTime));
      await ctx.close();
    }
    fcps.sort((a, b) => a - b);
    console.log(`  first-contentful-paint over 5 cold loads: median ${fcps[2].toFixed(0)} ms (${fcps[0].toFixed(0)}-${fcps[4].toFixed(0)})`);
    // embedding models are not offered for chat
    const options = await page.locator('#model option').allTextContents();
    assert(options.includes(MODEL) && !options.some(o => o.startsWith('bge')), 'chat models only: ' + options);
    await page.locator('#model').selectOption(MODEL);
  });

  await scenario('02-chat-streaming', async () => {
    await setNumber('#set-max-tokens', 96);
    await setNumber('#set-temperature', 0.8);
    await setNumber('#set-top-p', 0.9);
    await page.locator('details.settings > summary').click();
    await page.locator('#system').fill('You are a terse assistant.');
    await page.locator('details.settings > summary').click();
    const sent = page.waitForRequest(r => r.url().endsWith('/v1/chat/completions'));
    await sendAndWatch('Write a short note about **Markdown** tables.');
    const body = JSON.parse((await sent).postData());
    assert(body.stream === true && body.stream_options?.include_usage === true, 'streams with usage');
    assert(body.temperature === 0.8 && body.top_p === 0.9 && body.max_tokens === 96, 'sampling settings sent: ' + JSON.stringify(body));
    assert(body.messages[0].role === 'system' && body.messages[0].content === 'You are a terse assistant.', 'system prompt sent');
    await lastReply().locator('.meta').waitFor();
    const lengths = await page.evaluate(() => [...window.__lengths].filter(n => n > 0));
    console.log(`  the reply had ${lengths.length} distinct lengths while streaming`);
    assert(lengths.length >= 3, 'the reply grew in at least 3 steps, saw ' + lengths.length);
    const meta = await lastReply().locator('.meta').textContent();
    console.log('  meta: ' + meta);
    assert(/first token \d+ ms/.test(meta), 'time to first token shown');
    assert(/\d+ prompt \+ 96 completion tokens/.test(meta), 'usage shown');
    await page.locator('.conv-list li').first().waitFor();
    // regenerate replaces the reply
    await lastReply().locator('button.regenerate').click();
    await page.locator('.msg.assistant.pending').waitFor({ state: 'detached' });
    assert(await page.locator('.msg.assistant').count() === 1, 'one reply after regenerate');
    await lastReply().locator('button', { hasText: 'Copy' }).click();
    await lastReply().locator('button', { hasText: 'Copied' }).waitFor();
  });

  await scenario('03-chat-stop', async () => {
    await setNumber('#set-max-tokens', 20000);
    await sendAndWatch('Tell me a very long story.');
    await page.waitForFunction(() => (document.querySelector('.msg.assistant:last-child .md')?.textContent.length || 0) > 20);
    await page.locator('#stop').click();
    await page.locator('#send').waitFor({ state: 'visible' });
    const len1 = await lastReply().locator('.md').evaluate(e => e.textContent.length);
    await sleep(1000);
    const len2 = await lastReply().locator('.md').evaluate(e => e.textContent.length);
    assert(len1 === len2, `the reply stopped growing (${len1} then ${len2})`);
    const meta = await lastReply().locator('.meta').textContent();
    assert(meta.includes('stopped'), 'marked stopped: ' + meta);
    assert(await page.locator('#stop').isHidden(), 'stop button hidden again');
    console.log(`  stopped at ${len1} characters`);
    // the server let go too: no open stream, and the worker serves nothing
    const gauge = (text, name) => {
      const m = text.match(new RegExp('^' + name + '\\{[^}]*model="' + MODEL + '"[^}]*\\} (\\S+)', 'm'));
      return m ? Number(m[1]) : null;
    };
    let busy = null;
    for (let i = 0; i < 50; i++) {
      const metrics = await (await fetch(BASE + '/metrics')).text();
      busy = [gauge(metrics, 'zhiku_open_streams'), gauge(metrics, 'zhiku_worker_running')];
      if (busy[0] === 0 && busy[1] === 0) break;
      await sleep(100);
    }
    assert(busy[0] === 0 && busy[1] === 0, 'the server cancelled the generation (open streams, worker running): ' + busy);
    // usable again: another message goes through
    await setNumber('#set-max-tokens', 8);
    await sendAndWatch('Hi again');
    await page.locator('.msg.assistant.pending').waitFor({ state: 'detached' });
    assert(/8 completion tokens/.test(await lastReply().locator('.meta').textContent()), 'the next reply completed');
    // an API error is shown in the server's words
    await setNumber('#set-max-tokens', 999999);
    await sendAndWatch('Too long');
    const err = lastReply().locator('.error');
    await err.waitFor();
    const words = await err.textContent();
    console.log('  error shown: ' + words);
    assert(/maximum context length/.test(words), 'the 400 in words');
    await setNumber('#set-max-tokens', 160);
  });

  await scenario('03b-markdown', async () => {
    // a stored conversation (as localStorage keeps it) whose reply has every Markdown feature and
    // HTML that must stay text
    const reply = '## Result\n\nSome **bold**, *italic*, `inline <code>` and [a link](https://example.com/a?b=1&c=2).\n\n'
      + '1. first\n2. second\n   - nested\n\n| name | score |\n|:--|--:|\n| a | 0.91 |\n| b | 0.42 |\n\n'
      + '```python\nprint("<b>hi</b>")\n```\n\n<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> [bad](javascript:window.__xss=3)';
    await page.evaluate(reply => {
      const convs = JSON.parse(localStorage.getItem('zhiku.conversations') || '[]');
      convs.unshift({ id: 'mdtest', title: 'Markdown', messages: [{ role: 'user', content: 'Show me Markdown' },
        { role: 'assistant', content: reply, meta: { model: 'seeded' } }] });
      localStorage.setItem('zhiku.conversations', JSON.stringify(convs));
    }, reply);
    await page.goto(BASE + '/#/chat/mdtest');
    const md = lastReply().locator('.md');
    await md.locator('table').waitFor();
    assert(await md.locator('h2').textContent() === 'Result', 'heading');
    assert(await md.locator('strong').textContent() === 'bold' && await md.locator('em').textContent() === 'italic', 'emphasis');
    assert(await md.locator('p code').first().textContent() === 'inline <code>', 'inline code as text');
    assert(await md.locator('a[href="https://example.com/a?b=1&c=2"][rel~=noopener]').count() === 1, 'link');
    assert(await md.locator('ol > li').count() === 2 && await md.locator('ol ul > li').count() === 1, 'lists');
    assert(await md.locator('tbody tr').count() === 2 && await md.locator('td').nth(1).getAttribute('style') === 'text-align:right', 'table');
    assert(await md.locator('pre code.language-python').textContent() === 'print("<b>hi</b>")', 'code block');
    assert(await md.locator('img, script, b, a[href^="javascript"]').count() === 0, 'no HTML from the reply');
    assert(await page.evaluate(() => window.__xss) === undefined, 'nothing ran');
  });

  await scenario('04-kb-create', async () => {
    await page.goto(BASE + '/#/kb');
    await page.locator('#kb-embedding option').first().waitFor({ state: 'attached' });
    await page.locator('#kb-name').fill(KB);
    await page.locator('#kb-desc').fill('Pine Island travel notes');
    await page.locator('#kb-create').click();
    await page.waitForURL(u => u.hash === '#/kb/' + KB);
    await page.locator('h1', { hasText: KB }).waitFor();
    await page.locator('text=No documents yet.').waitFor();
    // the description is the server's (the page keeps none in the browser): it is there after a reload
    await page.reload();
    await page.locator('p', { hasText: 'Pine Island travel notes' }).waitFor();
  });

  await scenario('05-kb-upload', async () => {
    // drag and drop two files (one of a type the server refuses), then the PDF by the file picker
    await page.evaluate(({ md }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([md], 'pine-island.md', { type: 'text/markdown' }));
      dt.items.add(new File(['MZ\u0000\u0001'], 'tool.exe', { type: 'application/octet-stream' }));
      const zone = document.getElementById('dropzone');
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, { md: MARKDOWN });
    await page.locator('#file-input').setInputFiles({ name: 'pine-harbour.pdf', mimeType: 'application/pdf', buffer: PDF });
    for (const f of ['pine-island.md', 'pine-harbour.pdf']) {
      await page.locator(`#uploads li.ok[data-file="${f}"]`).waitFor();
    }
    const refused = page.locator('#uploads li.failed[data-file="tool.exe"]');
    await refused.waitFor();
    const why = await refused.locator('.state').textContent();
    console.log('  refused file: ' + why);
    assert(/unsupported document type/.test(why), "the server's reason is shown");
    for (const f of ['pine-island.md', 'pine-harbour.pdf']) {
      const row = page.locator(`tr[data-doc="${f}"]`);
      await row.waitFor();
      const chunks = Number(await row.locator('td.chunks').textContent());
      console.log(`  ${f}: ${chunks} chunks, ${await row.locator('td').nth(1).textContent()}`);
      assert(chunks > 0, f + ' has chunks');
    }
  });

  await scenario('06-kb-retrieval', async () => {
    await page.locator('#q').fill('What colour is the lighthouse lamp?');
    await page.locator('#q-mode').selectOption('hybrid');
    await page.locator('#q-search').click();
    await page.locator('#hits .hit').first().waitFor();
    const first = await page.locator('#hits .hit').first().textContent();
    console.log('  hybrid top hit: ' + first.slice(0, 90).replace(/\s+/g, ' '));
    assert(first.includes('pine-island.md') && first.includes('green'), 'the Markdown chunk is found');
    await page.locator('#q-mode').selectOption('keyword');
    await page.locator('#q').fill('ferry harbour museum');
    await page.locator('#q-search').click();
    await page.locator('#hits .hit').first().waitFor();
    const docs = await page.locator('#hits .hit-head b').allTextContents();
    assert(docs.some(d => d.includes('pine-harbour.pdf')), 'the PDF is found by keywords: ' + docs);
    await page.locator('#q-mode').selectOption('dense');
    await page.locator('#q').fill('lighthouse');
    await page.locator('#q-search').click();
    await page.locator('#hits .hit').first().waitFor();
    const score = Number(await page.locator('#hits .hit .score').first().textContent());
    assert(score > 0 && score <= 1, 'a dense score: ' + score);
  });

  await scenario('07-chat-with-kb', async () => {
    await page.goto(BASE + '/#/chat');
    await page.locator(`#kb-select option[value="${KB}"]`).waitFor({ state: 'attached' });
    await page.locator('#kb-select').selectOption(KB);
    await setNumber('#set-max-tokens', 48);
    await sendAndWatch('When was the lighthouse on Pine Island built?');
    await page.locator('.msg.assistant.pending').waitFor({ state: 'detached' });
    const sources = lastReply().locator('details.sources');
    await sources.locator('summary').first().click();
    await sources.locator('details.source summary').first().click();
    const text = await sources.textContent();
    assert(text.includes('pine-island.md') && text.includes('1897'), 'the sources name the document and its chunk');
    console.log('  sources: ' + (await sources.locator('summary').first().textContent()));
  });

  await scenario('08-kb-delete', async () => {
    await page.goto(BASE + '/#/kb/' + KB);
    const row = page.locator('tr[data-doc="pine-island.md"]');
    await row.locator('[data-test=delete-doc]').click();
    await page.locator('[data-test=confirm]').click();
    await row.waitFor({ state: 'detached' });
    await page.locator('tr[data-doc="pine-harbour.pdf"]').waitFor();
    await page.goto(BASE + '/#/kb');
    const kbRow = page.locator(`tr[data-kb="${KB}"]`);
    await kbRow.locator('[data-test=delete-kb]').click();
    await page.locator('.modal', { hasText: KB }).waitFor();
    await page.locator('[data-test=confirm]').click();
    await kbRow.waitFor({ state: 'detached' });
  });

  await scenario('09-api-key', async () => {
    await page.context().close();
    page = await newPage();
    await page.goto(KEYED + '/');
    const input = page.locator('#api-key-input');
    await input.waitFor();
    assert(await page.locator('header.top').isVisible(), 'the page is there behind the prompt');
    await page.screenshot({ path: join(OUT, '09-api-key-prompt.png') });
    // a wrong key: the prompt comes back with the server's words
    await input.fill('sk-wrong-key-123');
    await page.locator('#api-key-save').click();
    await page.locator('.modal .error', { hasText: 'Incorrect API key' }).waitFor();
    await input.fill(KEY);
    await page.locator('#api-key-save').click();
    await page.locator(`#model option[value="${MODEL}"]`).waitFor({ state: 'attached' });
    assert(await page.evaluate(() => localStorage.getItem('zhiku.apiKey')) === KEY, 'the key is kept');
    await setNumber('#set-max-tokens', 8);
    await sendAndWatch('Hello with a key');
    await page.locator('.msg.assistant.pending').waitFor({ state: 'detached' });
    assert(/8 completion tokens/.test(await lastReply().locator('.meta').textContent()), 'the keyed chat completed');
    assert(await page.locator('.msg.assistant .error').count() === 0, 'no error');
  });

  await scenario('10-chinese-narrow', async () => {
    await page.setViewportSize({ width: 390, height: 780 });
    await page.locator('#lang-btn').click();
    await page.locator('#tabs a', { hasText: '知识库' }).waitFor();
    assert((await page.locator('#send').textContent()) === '发送', 'Chinese text');
    assert(await page.locator('.sidebar').evaluate(e => e.getBoundingClientRect().right <= 0), 'the list is off screen');
    await page.locator('#menu').click();
    await page.waitForFunction(() => document.querySelector('.sidebar').getBoundingClientRect().left >= 0);
    await page.screenshot({ path: join(OUT, '10-chinese-narrow-menu.png') });
    await page.locator('#menu').click();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, 'no horizontal scrolling, overflow ' + overflow);
  });
} finally {
  await browser.close();
}
writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 1));
console.log(failed ? 'webui browser test: FAILED' : `webui browser test: ${results.length} scenarios passed`);
process.exit(failed ? 1 : 0);
