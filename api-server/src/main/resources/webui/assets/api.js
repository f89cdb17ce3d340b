// Talking to the server: JSON calls, the chat SSE stream (fetch + ReadableStream), uploads with
// progress (XMLHttpRequest), and the API key: a 401 opens the key prompt, then the call is retried.

const KEY = 'zhiku.apiKey';
let askKey = null; // set by the app: (message) => Promise<string|null>
let pendingAsk = null;

export function setKeyPrompt(fn) { askKey = fn; }
export function apiKey() { return localStorage.getItem(KEY) || ''; }
export function setApiKey(k) { if (k) localStorage.setItem(KEY, k); else localStorage.removeItem(KEY); }

export class ApiError extends Error {
  constructor(status, message, code) { super(message); this.status = status; this.code = code; }
}

function headers(json) {
  const h = {};
  if (json) h['content-type'] = 'application/json';
  const k = apiKey();
  if (k) h.authorization = 'Bearer ' + k;
  return h;
}

/** The OpenAI-shaped error of a response body, in words. */
function errorOf(status, text) {
  try {
    const e = JSON.parse(text).error;
    if (e && e.message) return new ApiError(status, e.message, e.code);
  } catch { /* not JSON */ }
  return new ApiError(status, text && text.length < 300 ? `HTTP ${status}: ${text}` : `HTTP ${status}`);
}

/** One prompt at a time however many calls got 401; resolves true when a new key was entered. */
async function unauthorized(err) {
  if (!askKey) return false;
  if (!pendingAsk) pendingAsk = askKey(err.message).finally(() => { pendingAsk = null; });
  const key = await pendingAsk;
  if (!key) return false;
  setApiKey(key);
  return true;
}

async function withAuth(call) {
  for (;;) {
    try {
      return await call();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401 && await unauthorized(e)) continue;
      throw e;
    }
  }
}

async function send(method, path, body, signal) {
  let r;
  try {
    r = await fetch(path, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body), signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, e.message || String(e), 'network');
  }
  return r;
}

/** A JSON call; throws ApiError with the server's message. */
export function api(method, path, body) {
  return withAuth(async () => {
    const r = await send(method, path, body);
    const text = await r.text();
    if (!r.ok) throw errorOf(r.status, text);
    return text ? JSON.parse(text) : null;
  });
}

/**
 * POSTs a streaming chat completion and calls onChunk(json) for each SSE data event until [DONE].
 * An error event inside the stream throws ApiError. Aborting the signal ends it with an AbortError.
 */
export function streamChat(body, { signal, onChunk }) {
  return withAuth(async () => {
    const r = await send('POST', '/v1/chat/completions', body, signal);
    if (!r.ok) throw errorOf(r.status, await r.text());
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        buf += decoder.decode(value || new Uint8Array(), { stream: !done });
        let cut;
        // SSE events end with a blank line; fields we need are "data:" lines
        while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
          const event = buf.slice(0, cut);
          buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '');
          const data = event.split(/\r?\n/).filter(l => l.startsWith('data:')).map(l => l.slice(5).replace(/^ /, '')).join('\n');
          if (!data) continue;
          if (data === '[DONE]') return;
          const json = JSON.parse(data);
          if (json.error) throw new ApiError(200, json.error.message || 'error', json.error.code);
          onChunk(json);
        }
        if (done) return;
      }
    } finally {
      reader.releaseLock?.();
    }
  });
}

/** Uploads one file to a knowledge base; onProgress(fraction) while sending. Resolves the document JSON. */
export function uploadFile(kb, file, onProgress) {
  return withAuth(() => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/v1/knowledge_bases/${encodeURIComponent(kb)}/documents`);
    const k = apiKey();
    if (k) xhr.setRequestHeader('authorization', 'Bearer ' + k);
    xhr.upload.onprogress = e => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.upload.onload = () => onProgress(1);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText));
      else reject(errorOf(xhr.status, xhr.responseText));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network error', 'network'));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  }));
}
