// Knowledge bases: the list (create, delete), and one knowledge base's page: its documents, uploads
// with per-file progress, and a retrieval test.
import { t, getLang } from './i18n.js';
import { h, clear, formatBytes } from './dom.js';
import { api, uploadFile } from './api.js';
import { toast, confirmBox } from './app.js';

const ACCEPT = '.txt,.md,.markdown,.pdf,.docx,.html,.htm,.csv,.json';

const when = sec => sec == null ? '' : new Date(sec * 1000).toLocaleString(getLang() === 'zh' ? 'zh-CN' : 'en');
const kbPath = name => '/v1/knowledge_bases/' + encodeURIComponent(name);

export function kbListView(root) {
  const rows = h('tbody');
  const status = h('p.muted');
  const name = h('input', { id: 'kb-name', required: true, maxlength: 64, placeholder: 'my_docs' });
  const desc = h('input', { id: 'kb-desc', maxlength: 200 });
  const emb = h('select', { id: 'kb-embedding' });
  const form = h('form.card.create-kb', { onsubmit: create },
    h('h2', t('createKb')),
    h('div.form-grid',
      h('label', h('span', t('name')), name),
      h('label', h('span', t('description')), desc),
      h('label', h('span', t('embeddingModel')), emb)),
    h('div.row.end', h('button.primary', { type: 'submit', id: 'kb-create' }, t('create'))));
  root.append(h('div.page',
    h('h1', t('kbs')),
    h('div.card', h('div.table', h('table.kb-table',
      h('thead', h('tr', [t('name'), t('embeddingModel'), t('documents'), t('chunks'), t('created'), ''].map(x => h('th', x)))), rows)), status),
    form));

  async function refresh() {
    let list;
    try {
      list = (await api('GET', '/v1/knowledge_bases')).data;
    } catch (e) {
      status.textContent = e.status === 404 ? t('kbDisabled') : e.message;
      form.hidden = e.status === 404;
      return;
    }
    clear(rows);
    status.textContent = list.length ? '' : t('noKbs');
    for (const kb of list) {
      rows.append(h('tr', { 'data-kb': kb.name },
        h('td', h('a', { href: '#/kb/' + encodeURIComponent(kb.name) }, h('b', kb.name)), kb.description ? h('div.muted', kb.description) : null),
        h('td', kb.embedding_model), h('td.num', kb.document_count), h('td.num', kb.chunk_count), h('td', when(kb.created_at)),
        h('td.actions', h('a.button.ghost', { href: '#/kb/' + encodeURIComponent(kb.name) }, t('open')),
          h('button.ghost.danger', { 'data-test': 'delete-kb', onclick: () => remove(kb.name) }, t('delete')))));
    }
  }
  async function remove(kb) {
    if (!await confirmBox(t('confirmDeleteKb', kb))) return;
    try {
      await api('DELETE', kbPath(kb));
    } catch (e) { toast(e.message); }
    refresh();
  }
  async function create(e) {
    e.preventDefault();
    const body = { name: name.value.trim() };
    if (desc.value.trim()) body.description = desc.value.trim();
    if (emb.value) body.embedding_model = emb.value;
    try {
      await api('POST', '/v1/knowledge_bases', body);
      location.hash = '#/kb/' + encodeURIComponent(body.name);
    } catch (err) { toast(err.message); }
  }
  (async () => {
    try {
      const models = (await api('GET', '/v1/models')).data.filter(m => m.kind === 'embedding').map(m => m.id);
      for (const m of models) emb.append(h('option', { value: m }, m));
    } catch { /* the server's default is used */ }
  })();
  refresh();
  return {};
}

export function kbPageView(root, kb) {
  const rows = h('tbody');
  const status = h('p.muted');
  const queue = h('ul.uploads', { id: 'uploads' });
  const input = h('input', { type: 'file', id: 'file-input', multiple: true, accept: ACCEPT, hidden: true,
    onchange: () => { uploadAll([...input.files]); input.value = ''; } });
  const drop = h('div.dropzone', { id: 'dropzone' },
    h('span', t('dropHere') + ' '), h('button.link', { type: 'button', onclick: () => input.click() }, t('choose')),
    h('div.muted', t('formats')), input);
  drop.addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', e => {
    e.preventDefault();
    drop.classList.remove('over');
    uploadAll([...(e.dataTransfer?.files || [])]);
  });

  const query = h('input', { id: 'q', required: true });
  const mode = h('select', { id: 'q-mode' }, ['hybrid', 'dense', 'keyword'].map(m => h('option', { value: m }, m)));
  const topK = h('input', { id: 'q-topk', type: 'number', min: 1, max: 100, value: 3 });
  const threshold = h('input', { id: 'q-threshold', type: 'number', min: 0, max: 1, step: 0.05, placeholder: '0' });
  const hits = h('div.hits', { id: 'hits' });
  const about = h('p', '');
  const info = h('p.muted');

  root.append(h('div.page',
    h('a.back', { href: '#/kb' }, '← ' + t('back')),
    h('h1', kb), about, info,
    h('div.card',
      h('h2', t('documents')),
      h('div.table', h('table.doc-table', h('thead', h('tr', [t('name'), t('size'), t('chunks'), t('time'), ''].map(x => h('th', x)))), rows)),
      status),
    h('div.card', h('h2', t('upload')), drop, queue),
    h('form.card', { onsubmit: search },
      h('h2', t('retrieval')),
      h('div.form-grid.search-grid',
        h('label.full', h('span', t('query')), query),
        h('label', h('span', t('mode')), mode),
        h('label', h('span', t('topK')), topK),
        h('label', h('span', t('threshold')), threshold)),
      h('div.row.end', h('button.primary', { type: 'submit', id: 'q-search' }, t('search'))),
      hits)));

  async function refresh() {
    try {
      const [info_, docs] = await Promise.all([api('GET', kbPath(kb)), api('GET', kbPath(kb) + '/documents')]);
      about.textContent = info_.description || '';
      info.textContent = `${info_.embedding_model} · ${t('documents')} ${info_.document_count} · ${t('chunks')} ${info_.chunk_count}`;
      clear(rows);
      status.textContent = docs.data.length ? '' : t('noDocs');
      for (const d of docs.data) {
        rows.append(h('tr', { 'data-doc': d.name },
          h('td', d.name), h('td.num', formatBytes(d.bytes)), h('td.num.chunks', d.chunk_count), h('td', when(d.updated_at ?? d.created_at)),
          h('td.actions', h('button.ghost.danger', { 'data-test': 'delete-doc', onclick: () => remove(d) }, t('delete')))));
      }
    } catch (e) {
      status.textContent = e.message;
    }
  }
  async function remove(d) {
    if (!await confirmBox(t('confirmDeleteDoc', d.name))) return;
    try { await api('DELETE', `${kbPath(kb)}/documents/${encodeURIComponent(d.id)}`); } catch (e) { toast(e.message); }
    refresh();
  }
  async function uploadAll(files) {
    const items = files.map(file => {
      const bar = h('progress', { max: 1, value: 0 });
      const state = h('span.state', t('uploading', 0));
      const li = h('li', { 'data-file': file.name }, h('span.fname', file.name), h('span.muted', formatBytes(file.size)), bar, state);
      queue.prepend(li);
      return { file, bar, state, li };
    });
    // two at a time: the server embeds each upload as it arrives
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const it = items[next++];
        try {
          const doc = await uploadFile(kb, it.file, f => {
            it.bar.value = f;
            it.state.textContent = f >= 1 ? t('processing') : t('uploading', Math.round(f * 100));
          });
          it.bar.value = 1;
          it.li.classList.add('ok');
          it.state.textContent = t('done', doc.chunk_count) + ' (' + t('st_' + doc.status) + ')';
        } catch (e) {
          it.li.classList.add('failed');
          it.state.textContent = t('failed', e.message);
        }
        refresh();
      }
    };
    await Promise.all([worker(), worker()]);
  }
  async function search(e) {
    e.preventDefault();
    const body = { query: query.value, mode: mode.value };
    if (topK.value) body.top_k = Number(topK.value);
    if (threshold.value) body.score_threshold = Number(threshold.value);
    clear(hits);
    try {
      const r = await api('POST', kbPath(kb) + '/search', body);
      hits.append(h('p.muted', r.data.length ? t('hits', r.data.length) : t('noHits')));
      r.data.forEach((hit, i) => hits.append(h('div.hit',
        h('div.hit-head', h('b', `#${i + 1} ${hit.document}`), h('span.muted', ` · ${t('chunk')} ${hit.chunk_index}`),
          h('span.score', Number(hit.score).toFixed(4))),
        h('div.chunk-text', hit.text))));
    } catch (err) {
      hits.append(h('p.error', err.message));
    }
  }
  refresh();
  return {};
}
