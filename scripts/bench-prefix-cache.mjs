// Time to first token of N concurrent streaming chat requests that share one long system prompt (each
// with its own question), against any OpenAI-compatible base URL: what the prefix cache saves.
//   node scripts/bench-prefix-cache.mjs BASE_URL MODEL [N=64] [SYSTEM_WORDS=1000]
// Prints the prompt tokens of one request and TTFT p50 / p99 / max in ms. Traffic goes only to BASE_URL.
const [base, model, nArg, wordsArg] = process.argv.slice(2);
if (!base || !model) { console.error('usage: bench-prefix-cache.mjs BASE_URL MODEL [N] [SYSTEM_WORDS]'); process.exit(2); }
const n = Number(nArg || 64), words = Number(wordsArg || 1000);
const system = Array.from({ length: words }, (_, i) => `规则${(i * 7919) % 10007}`).join(' ');

async function one(i) {
  const t0 = performance.now();
  const res = await fetch(base + '/chat/completions', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, max_tokens: 4, temperature: 0, stream_options: { include_usage: true },
      messages: [{ role: 'system', content: system }, { role: 'user', content: `问题 ${i}: 第${i}条规则是什么?` }] }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttft = null, prompt = null, buf = '';
  const dec = new TextDecoder();
  for await (const part of res.body) {
    buf += dec.decode(part, { stream: true });
    let k;
    while ((k = buf.indexOf('\n\n')) >= 0) {
      const line = buf.slice(0, k).trim(); buf = buf.slice(k + 2);
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      const ev = JSON.parse(line.slice(6));
      if (ttft === null && ev.choices?.[0]?.delta?.content) ttft = performance.now() - t0;
      if (ev.usage) prompt = ev.usage.prompt_tokens;
    }
  }
  return { ttft: ttft ?? performance.now() - t0, prompt };
}

const runs = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
const t = runs.map(r => r.ttft).sort((a, b) => a - b);
const q = p => t[Math.min(t.length - 1, Math.floor(p * t.length))].toFixed(0);
console.log(JSON.stringify({ requests: n, prompt_tokens: runs[0].prompt, ttft_ms: { p50: +q(0.5), p99: +q(0.99), max: +t.at(-1).toFixed(0) } }));
