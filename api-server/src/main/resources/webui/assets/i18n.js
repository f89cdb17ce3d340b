// UI text in Chinese and English. The language comes from a saved choice, else navigator.language.
const TEXT = {
  en: {
    chat: 'Chat', kbs: 'Knowledge bases', apiKey: 'API key', newChat: 'New chat', conversations: 'Conversations',
    model: 'Model', noModels: 'no chat model', knowledgeBase: 'Knowledge base', none: 'none', settings: 'Settings',
    systemPrompt: 'System prompt', temperature: 'Temperature', topP: 'top_p', maxTokens: 'max_tokens',
    placeholder: 'Message (Enter to send, Shift+Enter for a new line)', send: 'Send', stop: 'Stop',
    regenerate: 'Regenerate', copy: 'Copy', copied: 'Copied', delete: 'Delete', you: 'You', assistant: 'Assistant',
    ttft: 'first token {0} ms', tokens: '{0} prompt + {1} completion tokens', speed: '{0} tok/s', stopped: 'stopped',
    sources: 'Sources ({0})', score: 'score', chunk: 'chunk', emptyChat: 'Ask anything. Pick a knowledge base to answer from your documents.',
    untitled: 'New chat', createKb: 'Create a knowledge base', name: 'Name', description: 'Description',
    embeddingModel: 'Embedding model', create: 'Create', documents: 'Documents', chunks: 'Chunks', created: 'Created',
    size: 'Size', time: 'Time', open: 'Open', noKbs: 'No knowledge bases yet.', noDocs: 'No documents yet.',
    confirmDeleteKb: 'Delete knowledge base “{0}” and all its documents?', confirmDeleteDoc: 'Delete document “{0}”?',
    cancel: 'Cancel', confirm: 'Confirm', back: 'All knowledge bases', upload: 'Upload documents',
    dropHere: 'Drop files here, or', choose: 'choose files', formats: '.txt .md .pdf .docx .html .csv .json',
    uploading: 'uploading {0}%', processing: 'splitting and embedding…', done: 'done: {0} chunks', failed: 'refused: {0}',
    st_created: 'added', st_unchanged: 'unchanged', st_replaced: 'replaced',
    retrieval: 'Retrieval test', query: 'Query', mode: 'Mode', topK: 'top_k', threshold: 'score_threshold', search: 'Search',
    noHits: 'No hits.', hits: '{0} hits', keyTitle: 'API key required',
    keyText: 'This server needs an API key. It is kept in this browser only (localStorage) and sent as Authorization: Bearer.',
    keyWrong: 'The server refused the key: {0}', save: 'Save', clearKey: 'Forget key', networkError: 'Cannot reach the server: {0}',
    httpError: 'HTTP {0}', kbDisabled: 'Knowledge bases are not enabled on this server.', lang: '中文',
  },
  zh: {
    chat: '对话', kbs: '知识库', apiKey: 'API 密钥', newChat: '新对话', conversations: '对话列表',
    model: '模型', noModels: '没有对话模型', knowledgeBase: '知识库', none: '不使用', settings: '参数',
    systemPrompt: '系统提示词', temperature: '温度 temperature', topP: 'top_p', maxTokens: '最大长度 max_tokens',
    placeholder: '输入消息（Enter 发送，Shift+Enter 换行）', send: '发送', stop: '停止',
    regenerate: '重新生成', copy: '复制', copied: '已复制', delete: '删除', you: '你', assistant: '助手',
    ttft: '首字 {0} 毫秒', tokens: '输入 {0} + 输出 {1} tokens', speed: '{0} tok/s', stopped: '已停止',
    sources: '出处（{0}）', score: '分数', chunk: '片段', emptyChat: '有问题尽管问。选择一个知识库，即可根据你的文档回答。',
    untitled: '新对话', createKb: '新建知识库', name: '名称', description: '简介',
    embeddingModel: '向量模型', create: '创建', documents: '文档', chunks: '片段数', created: '创建时间',
    size: '大小', time: '时间', open: '打开', noKbs: '还没有知识库。', noDocs: '还没有文档。',
    confirmDeleteKb: '删除知识库“{0}”及其全部文档？', confirmDeleteDoc: '删除文档“{0}”？',
    cancel: '取消', confirm: '确定', back: '全部知识库', upload: '上传文档',
    dropHere: '把文件拖到这里，或', choose: '选择文件', formats: '.txt .md .pdf .docx .html .csv .json',
    uploading: '上传中 {0}%', processing: '切分并向量化…', done: '完成：{0} 个片段', failed: '被拒绝：{0}',
    st_created: '已添加', st_unchanged: '未变化', st_replaced: '已替换',
    retrieval: '检索测试', query: '查询', mode: '方式', topK: 'top_k', threshold: '分数阈值', search: '检索',
    noHits: '没有命中。', hits: '命中 {0} 条', keyTitle: '需要 API 密钥',
    keyText: '此服务器需要 API 密钥。密钥只保存在本浏览器（localStorage），以 Authorization: Bearer 发送。',
    keyWrong: '服务器拒绝了该密钥：{0}', save: '保存', clearKey: '清除密钥', networkError: '无法连接服务器：{0}',
    httpError: 'HTTP {0}', kbDisabled: '此服务器未启用知识库。', lang: 'English',
  },
};

const saved = localStorage.getItem('zhiku.lang');
let lang = saved === 'zh' || saved === 'en' ? saved : (navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';

export function getLang() { return lang; }

export function setLang(l) {
  lang = l;
  localStorage.setItem('zhiku.lang', l);
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
}

/** The text for key in the current language, with {0}, {1}... replaced by args. */
export function t(key, ...args) {
  const s = TEXT[lang][key] ?? TEXT.en[key] ?? key;
  return args.length ? s.replace(/\{(\d)\}/g, (_, i) => String(args[+i])) : s;
}
