// The chat screen: conversations in localStorage, model and knowledge-base pickers, sampling settings,
// streamed replies rendered as Markdown, stop, regenerate, copy, usage, time to first token, sources.
import { t } from './i18n.js';
import { h, clear } from './dom.js';
import { api, streamChat } from './api.js';
import { renderMarkdown } from './md.js';
import { toast } from './app.js';

const CONVS = 'zhiku.conversations';
const SETTINGS = 'zhiku.chatSettings';

function load(key, fallback) {
  try { return JSON.parse(localStorage.getItem(key)) ?? fallback; } catch { return fallback; }
}

const store = {
  convs: [],
  // read again on every visit to the screen: another tab may have written since
  loadConvs() {
    // a reply still marked pending (and not streaming in this tab) was cut off by a reload
    this.convs = load(CONVS, []).map(c => ({ ...c, messages: c.messages.map(m => m.meta?.pending
      ? { ...m, meta: { ...m.meta, pending: false, stopped: true } } : m) }));
  },
  settings: { model: '', kb: '', system: '', temperature: 0.7, top_p: 1, max_tokens: 1024, ...load(SETTINGS, {}) },
  saveConvs() { localStorage.setItem(CONVS, JSON.stringify(this.convs.slice(0, 200))); },
  saveSettings() { localStorage.setItem(SETTINGS, JSON.stringify(this.settings)); },
};

const newId = () => Date.now().toString(36) + Math.random().toString(36).slice(2, 7);

export function chatView(root, convId) {
  const s = store.settings;
  store.loadConvs();
  let conv = store.convs.find(c => c.id === convId) || null;
  let busy = null; // {controller, msg, el}
  let models = [];
  let kbs = [];

  const list = h('ul.conv-list');
  const messages = h('div.messages', { id: 'messages' });
  const modelSel = h('select', { id: 'model', 'aria-label': t('model'), onchange: () => { s.model = modelSel.value; store.saveSettings(); } });
  const kbSel = h('select', { id: 'kb-select', 'aria-label': t('knowledgeBase'), onchange: () => { s.kb = kbSel.value; store.saveSettings(); } });
  const num = (key, attrs) => h('input', { type: 'number', id: 'set-' + key.replace('_', '-'), value: s[key], ...attrs,
    onchange: e => { const v = e.target.value === '' ? null : Number(e.target.value); s[key] = v; store.saveSettings(); } });
  const system = h('textarea', { id: 'system', rows: 3, value: s.system, oninput: e => { s.system = e.target.value; store.saveSettings(); } });
  const prompt = h('textarea', { id: 'prompt', rows: 1, placeholder: t('placeholder'), onkeydown: onKey, oninput: grow });
  const sendBtn = h('button.primary', { id: 'send', type: 'submit' }, t('send'));
  const stopBtn = h('button.danger', { id: 'stop', type: 'button', hidden: true, onclick: () => busy?.controller.abort() }, t('stop'));

  root.append(h('div.chat-layout',
    h('aside.sidebar',
      h('button.primary.wide', { id: 'new-chat', onclick: () => { location.hash = '#/chat'; } }, '+ ' + t('newChat')),
      h('h3', t('conversations')), list),
    h('section.chat-main',
      h('div.toolbar',
        h('label', h('span', t('model')), modelSel),
        h('label', h('span', t('knowledgeBase')), kbSel),
        h('details.settings', h('summary', t('settings')),
          h('div.settings-grid',
            h('label.full', h('span', t('systemPrompt')), system),
            h('label', h('span', t('temperature')), num('temperature', { min: 0, max: 2, step: 0.1 })),
            h('label', h('span', t('topP')), num('top_p', { min: 0, max: 1, step: 0.05 })),
            h('label', h('span', t('maxTokens')), num('max_tokens', { min: 1, step: 1 }))))),
      messages,
      h('form.composer', { onsubmit: e => { e.preventDefault(); submit(); } }, prompt, sendBtn, stopBtn))));

  function onKey(e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  }
  function grow() {
    prompt.style.height = 'auto';
    prompt.style.height = Math.min(prompt.scrollHeight, 200) + 'px';
  }

  function renderList() {
    clear(list);
    for (const c of store.convs) {
      list.append(h('li' + (conv && c.id === conv.id ? '.active' : ''),
        h('a', { href: '#/chat/' + encodeURIComponent(c.id), title: c.title }, c.title || t('untitled')),
        h('button.icon', { 'aria-label': t('delete'), title: t('delete'), onclick: () => removeConv(c) }, '×')));
    }
  }
  function removeConv(c) {
    if (busy && conv === c) busy.controller.abort();
    store.convs = store.convs.filter(x => x !== c);
    store.saveConvs();
    if (conv === c) location.hash = '#/chat'; else renderList();
  }

  function renderMessages() {
    clear(messages);
    if (!conv || !conv.messages.length) {
      messages.append(h('div.empty', t('emptyChat')));
      return;
    }
    conv.messages.forEach((m, i) => messages.append(messageEl(m, i === conv.messages.length - 1)));
    messages.scrollTop = messages.scrollHeight;
  }

  function messageEl(m, last) {
    if (m.role === 'user') return h('div.msg.user', h('div.bubble', m.content));
    const el = h('div.msg.assistant' + (m.meta?.pending ? '.pending' : ''));
    const md = h('div.md');
    md.innerHTML = renderMarkdown(m.content); // escaped by the renderer; no raw model HTML
    el.append(md);
    fillMeta(el, m, last);
    return el;
  }

  function fillMeta(el, m, last) {
    el.querySelectorAll('.error, .meta, .sources').forEach(x => x.remove());
    const meta = m.meta || {};
    if (meta.error) el.append(h('div.error', meta.error));
    if (meta.pending) return;
    const bits = [];
    if (meta.model) bits.push(meta.model);
    if (meta.ttft != null) bits.push(t('ttft', Math.round(meta.ttft)));
    if (meta.usage) bits.push(t('tokens', meta.usage.prompt_tokens, meta.usage.completion_tokens));
    if (meta.usage && meta.ms && meta.ttft != null && meta.usage.completion_tokens > 1) {
      bits.push(t('speed', ((meta.usage.completion_tokens - 1) / Math.max(1, meta.ms - meta.ttft) * 1000).toFixed(1)));
    }
    if (meta.stopped) bits.push(t('stopped'));
    const copyBtn = h('button.link', { onclick: () => copy(m.content, copyBtn) }, t('copy'));
    el.append(h('div.meta', h('span.stats', bits.join(' · ')), h('span.actions', copyBtn,
      last ? h('button.link', { class: 'link regenerate', onclick: regenerate }, t('regenerate')) : null)));
    if (meta.sources && meta.sources.length) {
      el.append(h('details.sources', h('summary', t('sources', meta.sources.length)),
        meta.sources.map((src, i) => h('details.source',
          h('summary', h('b', `[${i + 1}] ${src.document}`), ` · ${t('chunk')} ${src.chunk_index} · ${t('score')} ${Number(src.score).toFixed(3)}`),
          h('div.chunk-text', src.text)))));
    }
  }

  async function copy(text, btn) {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const ta = h('textarea', { value: text });
      document.body.append(ta);
      ta.select();
      document.execCommand('copy');
      ta.remove();
    }
    btn.textContent = t('copied');
    setTimeout(() => { btn.textContent = t('copy'); }, 1500);
  }

  function setBusy(b) {
    sendBtn.hidden = !!b;
    stopBtn.hidden = !b;
    prompt.disabled = false;
  }

  function submit() {
    const text = prompt.value.trim();
    if (!text || busy) return;
    if (!modelSel.value) { toast(t('noModels')); return; }
    if (!conv) {
      conv = { id: newId(), title: text.slice(0, 40), messages: [] };
      store.convs.unshift(conv);
      history.replaceState(null, '', '#/chat/' + conv.id);
    }
    conv.messages.push({ role: 'user', content: text });
    prompt.value = '';
    grow();
    generate();
  }

  function regenerate() {
    if (busy || !conv) return;
    if (conv.messages.at(-1)?.role === 'assistant') conv.messages.pop();
    generate();
  }

  async function generate() {
    // replies that failed before any text are not part of the conversation the model sees
    const history = conv.messages.filter(m => m.role === 'user' || m.content)
      .map(m => ({ role: m.role, content: m.content }));
    const msg = { role: 'assistant', content: '', meta: { model: modelSel.value, pending: true } };
    conv.messages.push(msg);
    store.saveConvs();
    renderList();
    renderMessages();
    const el = messages.lastElementChild;
    const md = el.querySelector('.md');
    const body = { model: modelSel.value, stream: true, stream_options: { include_usage: true },
      messages: (s.system ? [{ role: 'system', content: s.system }] : []).concat(history) };
    if (s.temperature != null) body.temperature = s.temperature;
    if (s.top_p != null) body.top_p = s.top_p;
    if (s.max_tokens != null) body.max_tokens = s.max_tokens;
    if (kbSel.value) body.knowledge_base = kbSel.value;
    const controller = new AbortController();
    busy = { controller, msg, el };
    setBusy(true);
    const t0 = performance.now();
    let frame = 0;
    const paint = () => {
      frame = 0;
      const stick = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
      md.innerHTML = renderMarkdown(msg.content);
      if (stick) messages.scrollTop = messages.scrollHeight;
    };
    try {
      await streamChat(body, {
        signal: controller.signal,
        onChunk: chunk => {
          for (const c of chunk.choices || []) {
            const piece = c.delta?.content;
            if (piece) {
              if (msg.meta.ttft == null) msg.meta.ttft = performance.now() - t0;
              msg.content += piece;
              if (!frame) frame = requestAnimationFrame(paint);
            }
            if (c.finish_reason) msg.meta.finish = c.finish_reason;
          }
          if (chunk.usage) msg.meta.usage = chunk.usage;
          if (chunk.sources) msg.meta.sources = chunk.sources;
        },
      });
    } catch (e) {
      if (e.name === 'AbortError') msg.meta.stopped = true;
      else msg.meta.error = e.status === 0 ? t('networkError', e.message) : e.message;
    } finally {
      if (frame) cancelAnimationFrame(frame);
      msg.meta.pending = false;
      msg.meta.ms = performance.now() - t0;
      busy = null;
      setBusy(false);
      store.saveConvs();
      if (el.isConnected) {
        paint();
        el.classList.remove('pending');
        fillMeta(el, msg, true);
        prompt.focus();
      }
    }
  }

  async function loadPickers() {
    try {
      const r = await api('GET', '/v1/models');
      models = r.data.filter(m => (m.kind || 'chat') === 'chat').map(m => m.id);
    } catch (e) {
      toast(e.message);
    }
    clear(modelSel);
    if (!models.length) modelSel.append(h('option', { value: '' }, t('noModels')));
    for (const m of models) modelSel.append(h('option', { value: m }, m));
    if (models.includes(s.model)) modelSel.value = s.model;
    else if (models.length) { s.model = models[0]; modelSel.value = s.model; }
    try {
      kbs = (await api('GET', '/v1/knowledge_bases')).data.map(k => k.name);
    } catch { kbs = []; }
    clear(kbSel);
    kbSel.append(h('option', { value: '' }, t('none')));
    for (const k of kbs) kbSel.append(h('option', { value: k }, k));
    kbSel.value = kbs.includes(s.kb) ? s.kb : '';
  }

  renderList();
  renderMessages();
  loadPickers();
  prompt.focus();
  return {
    unmount() {
      if (!busy) return;
      // leaving the screen stops the reply; keep what came so far before the next screen reads the store
      Object.assign(busy.msg.meta, { pending: false, stopped: true });
      store.saveConvs();
      busy.controller.abort();
    },
  };
}
