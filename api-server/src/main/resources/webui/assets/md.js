// A small Markdown renderer for model output. Everything is HTML-escaped first; only the tags this
// file writes itself reach the page. Covers paragraphs, headings, emphasis, inline code, fenced code
// (an unclosed fence, as while streaming, runs to the end), lists, block quotes, tables, rules, links.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = s => String(s).replace(/[&<>"']/g, c => ESC[c]);

function safeUrl(url) {
  const u = url.trim();
  // http(s), mailto, in-page and relative links only: no javascript:, data: or other schemes
  if (/^(https?:|mailto:)/i.test(u) || /^[#/.?]/.test(u) || !/^[a-z][a-z0-9+.-]*:/i.test(u)) return u;
  return null;
}

/** Inline Markdown of one line or paragraph: code spans, links, bold, italic, strikethrough. */
export function inline(text) {
  let out = '';
  // code spans first: their content is literal
  const parts = text.split(/(`+)/);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (/^`+$/.test(p)) {
      const close = parts.indexOf(p, i + 2);
      if (close > 0) {
        out += '<code>' + escapeHtml(parts.slice(i + 1, close).join('').replace(/^ (.+) $/, '$1')) + '</code>';
        i = close;
        continue;
      }
    }
    out += spans(p);
  }
  return out;
}

function spans(raw) {
  let s = escapeHtml(raw);
  s = s.replace(/\[([^\]]+)\]\(([^)\s]+)(?:\s+&quot;[^)]*&quot;)?\)/g, (m, label, url) => {
    const href = safeUrl(url.replace(/&amp;/g, '&'));
    return href == null ? m : `<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer">${label}</a>`;
  });
  s = s.replace(/(^|[\s(])(https?:\/\/[^\s<]+[^\s<.,;:!?)'"])/g, (m, pre, url) =>
    pre + `<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`);
  s = s.replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>');
  // underscores only at word edges: snake_case and __dunder__ names stay as written
  s = s.replace(/(^|[^\w])__(?=\S)([\s\S]*?\S)__(?!\w)/g, '$1<strong>$2</strong>');
  s = s.replace(/(^|[^*\w])\*(?=\S)([^*]*?\S)\*(?!\*)|(^|[^_\w])_(?=\S)([^_]*?\S)_(?!\w)/g,
    (m, p1, a, p2, b) => (p1 ?? p2) + `<em>${a ?? b}</em>`);
  s = s.replace(/~~(?=\S)([\s\S]*?\S)~~/g, '<del>$1</del>');
  return s;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const LIST = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function cells(row) {
  let r = row.trim();
  if (r.startsWith('|')) r = r.slice(1);
  if (r.endsWith('|') && !r.endsWith('\\|')) r = r.slice(0, -1);
  return r.split(/(?<!\\)\|/).map(c => c.trim().replace(/\\\|/g, '|'));
}

function isBlockStart(line, next) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || LIST.test(line) || QUOTE.test(line)
    || (line.includes('|') && next != null && TABLE_SEP.test(next) && next.includes('-'));
}

/** Markdown to HTML (a string of escaped text and the tags written here). */
export function renderMarkdown(src) {
  return blocks(String(src).replace(/\r\n?/g, '\n').split('\n'));
}

function blocks(lines) {
  let html = '';
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) { i++; continue; }
    let m;
    if ((m = FENCE.exec(line))) {
      const fence = m[1];
      const lang = m[2];
      const body = [];
      i++;
      while (i < lines.length && !(lines[i].trim().startsWith(fence[0].repeat(fence.length)) && lines[i].trim().replace(/[`~]/g, '') === '')) {
        body.push(lines[i]);
        i++;
      }
      i++; // the closing fence (or past the end)
      const cls = lang ? ` class="language-${escapeHtml(lang)}"` : '';
      html += `<pre><code${cls}>${escapeHtml(body.join('\n'))}</code></pre>`;
      continue;
    }
    if ((m = HEADING.exec(line))) {
      const n = m[1].length;
      html += `<h${n}>${inline(m[2])}</h${n}>`;
      i++;
      continue;
    }
    if (RULE.test(line)) { html += '<hr>'; i++; continue; }
    if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && (m = QUOTE.exec(lines[i]))) { body.push(m[1]); i++; }
      html += `<blockquote>${blocks(body)}</blockquote>`;
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      const head = cells(line);
      const aligns = cells(lines[i + 1]).map(c => c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : c.startsWith(':') ? 'left' : '');
      const al = k => aligns[k] ? ` style="text-align:${aligns[k]}"` : '';
      html += '<div class="table"><table><thead><tr>' + head.map((c, k) => `<th${al(k)}>${inline(c)}</th>`).join('') + '</tr></thead><tbody>';
      i += 2;
      while (i < lines.length && lines[i].trim() && lines[i].includes('|')) {
        const row = cells(lines[i]);
        html += '<tr>' + head.map((_, k) => `<td${al(k)}>${inline(row[k] ?? '')}</td>`).join('') + '</tr>';
        i++;
      }
      html += '</tbody></table></div>';
      continue;
    }
    if ((m = LIST.exec(line))) {
      const [html2, next] = list(lines, i, m[1].length);
      html += html2;
      i = next;
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !(para.length && isBlockStart(lines[i], lines[i + 1]))) {
      para.push(lines[i].trim());
      i++;
    }
    html += `<p>${para.map(inline).join('<br>')}</p>`;
  }
  return html;
}

/** A list starting at lines[i] whose markers are indented by indent; nested lists by deeper indentation. */
function list(lines, i, indent) {
  const first = LIST.exec(lines[i]);
  const ordered = /\d/.test(first[2]);
  const start = ordered ? parseInt(first[2], 10) : 1;
  let html = ordered ? (start !== 1 ? `<ol start="${start}">` : '<ol>') : '<ul>';
  while (i < lines.length) {
    const m = LIST.exec(lines[i]);
    if (!m || m[1].length !== indent || /\d/.test(m[2]) !== ordered) break;
    let item = inline(m[3]);
    i++;
    // continuation lines and nested lists
    while (i < lines.length && lines[i].trim()) {
      const n = LIST.exec(lines[i]);
      if (n && n[1].length > indent) {
        const [sub, next] = list(lines, i, n[1].length);
        item += sub;
        i = next;
      } else if (!n && /^\s+/.test(lines[i]) && !isBlockStart(lines[i].trim(), lines[i + 1])) {
        item += '<br>' + inline(lines[i].trim());
        i++;
      } else break;
    }
    html += `<li>${item}</li>`;
    // a blank line between items keeps the list going
    if (i < lines.length && !lines[i].trim() && i + 1 < lines.length) {
      const n = LIST.exec(lines[i + 1]);
      if (n && n[1].length === indent && /\d/.test(n[2]) === ordered) i++;
    }
  }
  return [html + (ordered ? '</ol>' : '</ul>'), i];
}
