// The shell: header, language switch, API-key prompt, confirmations, toasts, and the hash router.
import { t, getLang, setLang } from './i18n.js';
import { h, clear } from './dom.js';
import { setKeyPrompt, apiKey, setApiKey } from './api.js';
import { chatView } from './chat.js';
import { kbListView, kbPageView } from './kb.js';

const view = document.getElementById('view');
let current = null; // the mounted view's {unmount}

/** A modal dialog; resolves with what the buttons give. */
export function modal(build) {
  return new Promise(resolve => {
    const back = h('div.modal-back', { role: 'dialog', 'aria-modal': 'true' });
    const close = v => { back.remove(); resolve(v); };
    back.append(h('div.modal', build(close)));
    document.body.append(back);
    back.querySelector('input, button.primary')?.focus();
  });
}

export function confirmBox(message) {
  return modal(close => [
    h('p', message),
    h('div.row.end', h('button.ghost', { onclick: () => close(false) }, t('cancel')),
      h('button.primary.danger', { 'data-test': 'confirm', onclick: () => close(true) }, t('confirm'))),
  ]);
}

function keyPrompt(serverMessage) {
  return modal(close => {
    const input = h('input', { type: 'password', id: 'api-key-input', autocomplete: 'off', placeholder: 'sk-…', value: '' });
    const save = e => { e.preventDefault(); close(input.value.trim() || null); };
    return h('form.key-form', { onsubmit: save },
      h('h2', t('keyTitle')),
      h('p', t('keyText')),
      apiKey() && serverMessage ? h('p.error', t('keyWrong', serverMessage)) : null,
      input,
      h('div.row.end', h('button.ghost', { type: 'button', onclick: () => close(null) }, t('cancel')),
        h('button.primary', { type: 'submit', id: 'api-key-save' }, t('save'))));
  });
}

export function toast(message, kind = 'error') {
  const el = h('div.toast.' + kind, message);
  document.getElementById('toasts').append(el);
  setTimeout(() => el.remove(), 6000);
}

function applyText() {
  document.documentElement.lang = getLang() === 'zh' ? 'zh-CN' : 'en';
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  document.getElementById('lang-btn').textContent = t('lang');
}

function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [section, ...rest] = hash.split('/');
  current?.unmount?.();
  clear(view);
  document.body.classList.remove('menu-open');
  const name = rest.map(decodeURIComponent).join('/');
  for (const a of document.querySelectorAll('#tabs a')) a.classList.toggle('active', a.getAttribute('href') === '#/' + (section === 'kb' ? 'kb' : 'chat'));
  if (section === 'kb' && name) current = kbPageView(view, name);
  else if (section === 'kb') current = kbListView(view);
  else current = chatView(view, rest[0] ? decodeURIComponent(rest[0]) : null);
}

setKeyPrompt(keyPrompt);
document.getElementById('lang-btn').addEventListener('click', () => {
  setLang(getLang() === 'zh' ? 'en' : 'zh');
  applyText();
  route();
});
document.getElementById('key-btn').addEventListener('click', async () => {
  const key = await modal(close => {
    const input = h('input', { type: 'password', id: 'api-key-input', autocomplete: 'off', value: apiKey() });
    return h('form.key-form', { onsubmit: e => { e.preventDefault(); close(input.value.trim()); } },
      h('h2', t('apiKey')), h('p', t('keyText')), input,
      h('div.row.end', h('button.ghost', { type: 'button', onclick: () => close('') }, t('clearKey')),
        h('button.primary', { type: 'submit' }, t('save'))));
  });
  setApiKey(key);
  route();
});
document.getElementById('menu').addEventListener('click', () => document.body.classList.toggle('menu-open'));
window.addEventListener('hashchange', route);
applyText();
route();
