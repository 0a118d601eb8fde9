// The local console: the sandbox's WhatsApp users on one side, the business inbox (read from the
// API on this origin) on the other, chaos switches, the domain events pushed out (CloudEvents) and
// the End User Messaging topic's envelopes. Plain JS, no build.
// Sandbox control routes are reached through /console/sandbox/* (passed through by the runtime).

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c instanceof Node ? c : String(c));
  return node;
};

async function call(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, body: json };
}
const sandbox = (method, path, body) => call(method, `/console/sandbox/${path}`, body);
const api = (method, path, body) => call(method, `/v1/${path}`, body);

const state = {
  numbers: [],
  users: [],
  user: null,
  userChoice: 0,
  business: null,
  conversation: null,
  lastEvent: 0,
  lastDomainEvent: 0,
  mediaUrls: new Map(),
};

const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '');

/** ✓ sent, ✓✓ delivered, blue ✓✓ read (or played), ! failed. */
function ticks(status) {
  if (status === 'failed' || status === 'Message retries exhausted, dropping message.') return el('span', { class: 'ticks failed', title: status }, '!');
  if (status === 'read' || status === 'played') return el('span', { class: 'ticks read', title: status, 'data-status': 'read' }, '✓✓');
  if (status === 'delivered') return el('span', { class: 'ticks', title: status, 'data-status': 'delivered' }, '✓✓');
  if (status === 'sent') return el('span', { class: 'ticks', title: status, 'data-status': 'sent' }, '✓');
  return el('span', { class: 'ticks', title: status ?? 'pending', 'data-status': status ?? 'pending' }, '🕓');
}

/** A readable line for a message's content, whatever its type. */
function describe(type, content) {
  const c = content ?? {};
  switch (type) {
    case 'text':
      return c.body ?? '';
    case 'image':
    case 'video':
    case 'document':
    case 'audio':
    case 'sticker':
      return `[${type}] ${c.caption ?? c.filename ?? ''}`.trim();
    case 'location':
      return `📍 ${c.name ?? ''} ${c.latitude}, ${c.longitude}`;
    case 'interactive': {
      if (c.button_reply) return `↩ ${c.button_reply.title}`;
      if (c.list_reply) return `↩ ${c.list_reply.title}`;
      const body = c.body?.text ?? '';
      return body;
    }
    case 'button':
      return `↩ ${c.text ?? c.payload ?? ''}`;
    case 'template':
      return `[template] ${c.name ?? ''}`;
    case 'reaction':
      return `${c.emoji ?? '(reaction removed)'}`;
    default:
      return `[${type}]`;
  }
}

// ---------------------------------------------------------------------------------------------
// The user's side

/** Buttons a user can tap on a business message: reply buttons, list rows, template quick replies. */
function choicesOf(message) {
  const c = message.content ?? {};
  const taps = [];
  if (message.type === 'interactive' && c.type === 'button') {
    for (const b of c.action?.buttons ?? []) {
      if (b.reply) taps.push({ label: b.reply.title, send: { type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: b.reply.id, title: b.reply.title } } } });
    }
  }
  if (message.type === 'interactive' && c.type === 'list') {
    for (const section of c.action?.sections ?? []) {
      for (const row of section.rows ?? []) {
        const reply = { id: row.id, title: row.title, ...(row.description ? { description: row.description } : {}) };
        taps.push({ label: row.title, send: { type: 'interactive', interactive: { type: 'list_reply', list_reply: reply } } });
      }
    }
  }
  if (message.type === 'template') {
    for (const comp of c.components ?? []) {
      if (comp.type === 'button' && comp.sub_type === 'quick_reply') {
        const payload = comp.parameters?.[0]?.payload ?? `button-${comp.index}`;
        taps.push({ label: payload, send: { type: 'button', button: { payload, text: payload } } });
      }
    }
  }
  return taps;
}

async function userSends(fields) {
  if (!state.user) return;
  const res = await sandbox('POST', 'inbound', { from: state.user, to: state.business, ...fields });
  if (res.status !== 201) alert(`The sandbox refused the message: ${res.body?.error?.message ?? res.status}`);
  await refreshChat();
}

function renderChat(chat) {
  const box = $('#phone');
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 10;
  const number = state.numbers.find((n) => n.phoneNumberId === state.business);
  box.replaceChildren(
    ...chat.messages
      .filter((m) => m.phoneNumberId === state.business)
      .map((m) => {
        const mine = m.direction === 'inbound';
        const bubble = el(
          'div',
          { class: `bubble ${mine ? 'mine' : 'theirs'}`, 'data-wamid': m.wamid ?? '', 'data-direction': m.direction },
          el('span', { class: 'kind' }, m.type === 'text' ? '' : m.type),
          el('div', { class: 'text' }, describe(m.type, m.content)),
        );
        if (!mine) {
          const taps = choicesOf(m);
          if (taps.length && m.wamid) {
            bubble.append(
              el(
                'div',
                { class: 'choices' },
                taps.map((t) =>
                  el('button', { type: 'button', onclick: () => userSends({ ...t.send, context: { from: number?.displayPhoneNumber, id: m.wamid } }) }, t.label),
                ),
              ),
            );
          }
        }
        bubble.append(el('span', { class: 'meta' }, time(m.at), mine ? null : ticks(m.status)));
        return bubble;
      }),
  );
  if (atBottom) box.scrollTop = box.scrollHeight;
}

async function refreshChat() {
  if (!state.user) return;
  const res = await sandbox('GET', `chat?user=${encodeURIComponent(state.user)}`);
  if (res.status === 200) renderChat(res.body);
}

/** The operator's choice of user; a list fetched before the choice must not undo it. */
function chooseUser(key) {
  state.user = key;
  state.userChoice = (state.userChoice ?? 0) + 1;
}

async function refreshUsers() {
  const choice = state.userChoice;
  const res = await sandbox('GET', 'users');
  if (res.status !== 200) return;
  // Fetched before the operator picked or added a user: the list may not hold that user yet.
  if (choice !== state.userChoice) return;
  state.users = res.body;
  const select = $('#user-select');
  const keys = state.users.map((u) => u.key);
  if (select.options.length !== keys.length || [...select.options].some((o, i) => o.value !== keys[i])) {
    select.replaceChildren(
      ...state.users.map((u) => el('option', { value: u.key }, `${u.name ?? 'User'} (${u.phone ?? u.userId})${u.onWhatsApp ? '' : ' — not on WhatsApp'}`)),
    );
  }
  if (!state.user || !keys.includes(state.user)) state.user = state.users.find((u) => u.onWhatsApp)?.key ?? keys[0] ?? null;
  select.value = state.user ?? '';
}

// ---------------------------------------------------------------------------------------------
// The business inbox

async function mediaPreview(message) {
  if (!message.media || message.media.state !== 'stored') return el('span', { class: 'muted' }, message.media ? `media ${message.media.state}` : '');
  let url = state.mediaUrls.get(message.id);
  if (!url) {
    const res = await api('GET', `messages/${encodeURIComponent(message.id)}/media`);
    if (res.status !== 200) return el('span', { class: 'muted' }, 'media not available');
    url = res.body.url;
    state.mediaUrls.set(message.id, url);
  }
  if (message.type === 'image' || message.type === 'sticker') return el('img', { src: url, alt: message.content?.caption ?? message.type });
  return el('a', { href: url, target: '_blank', rel: 'noopener' }, message.content?.filename ?? `open ${message.type}`);
}

async function renderInbox(messages) {
  const box = $('#inbox');
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 10;
  const bubbles = [];
  for (const m of [...messages].reverse()) {
    const mine = m.direction === 'outbound';
    const bubble = el(
      'div',
      { class: `bubble ${mine ? 'mine' : 'theirs'}`, 'data-id': m.id, 'data-direction': m.direction, 'data-status': m.status },
      el('span', { class: 'kind' }, m.type === 'text' ? '' : m.type),
      el('div', { class: 'text' }, describe(m.type, m.content)),
    );
    if (m.media) bubble.append(await mediaPreview(m));
    if (m.context?.replyTo) bubble.prepend(el('div', { class: 'muted' }, 'in reply to a business message'));
    bubble.append(el('span', { class: 'meta' }, time(m.timestamp), mine ? ticks(m.status) : null));
    bubbles.push(bubble);
  }
  box.replaceChildren(...bubbles);
  if (atBottom) box.scrollTop = box.scrollHeight;
}

async function refreshInbox() {
  const list = await api('GET', 'conversations?limit=50');
  if (list.status !== 200) return;
  const ul = $('#conversations');
  ul.replaceChildren(
    ...list.body.items.map((c) => {
      const key = `${c.phoneNumberId}/${c.contactId ?? c.contact?.waId ?? c.contact?.userId}`;
      const active = state.conversation && key === `${state.conversation.phoneNumberId}/${state.conversation.contactId}`;
      return el(
        'li',
        {
          class: active ? 'active' : '',
          'data-contact': c.contactId ?? '',
          onclick: () => {
            state.conversation = { phoneNumberId: c.phoneNumberId, contactId: c.contactId ?? c.contact?.waId ?? c.contact?.userId };
            refreshInbox();
          },
        },
        el('strong', {}, c.contact?.name ?? c.contactId),
        el('div', { class: 'muted' }, c.contactId),
        el('div', { class: `window ${c.windowOpen ? 'open' : 'closed'}` }, c.windowOpen ? `window open until ${time(c.windowExpiresAt)}` : 'window closed'),
      );
    }),
  );
  if (!state.conversation) return;
  const conv = list.body.items.find((c) => c.phoneNumberId === state.conversation.phoneNumberId && c.contactId === state.conversation.contactId);
  $('#window-state').textContent = conv
    ? `${conv.contact?.name ?? conv.contactId} · ${conv.messageCount} messages · ${conv.windowOpen ? `24-hour window open until ${new Date(conv.windowExpiresAt).toLocaleString()}` : 'window closed: only templates can be sent'}`
    : 'Pick a conversation.';
  const { phoneNumberId, contactId } = state.conversation;
  const page = await api('GET', `conversations/${encodeURIComponent(phoneNumberId)}/${encodeURIComponent(contactId)}/messages?limit=50`);
  if (page.status === 200) await renderInbox(page.body.items);
}

async function sendReply(event) {
  event.preventDefault();
  if (!state.conversation) return;
  const form = event.target;
  const text = form.text.value.trim();
  const buttons = form.buttons.value.split(',').map((b) => b.trim()).filter(Boolean);
  if (!text) return;
  const target = /^[0-9]+$/.test(state.conversation.contactId) ? { to: state.conversation.contactId } : { recipient: state.conversation.contactId };
  const body = buttons.length
    ? {
        from: state.conversation.phoneNumberId,
        ...target,
        type: 'interactive',
        interactive: {
          type: 'button',
          body: { text },
          action: { buttons: buttons.slice(0, 3).map((title, i) => ({ type: 'reply', reply: { id: `btn-${i + 1}`, title } })) },
        },
      }
    : { from: state.conversation.phoneNumberId, ...target, type: 'text', text: { body: text } };
  const res = await api('POST', 'messages', body);
  $('#reply-result').textContent = res.status === 202 ? `Sent (${res.body.id})` : `Refused: ${res.body?.error?.code ?? res.status} — ${res.body?.error?.message ?? ''}`;
  if (res.status === 202) form.reset();
  await Promise.all([refreshInbox(), refreshChat()]);
}

// ---------------------------------------------------------------------------------------------
// Chaos and events

async function loadChaos() {
  const res = await sandbox('GET', 'chaos');
  if (res.status !== 200) return;
  const form = $('#chaos');
  for (const [k, v] of Object.entries(res.body)) {
    const input = form.elements.namedItem(k);
    if (!input) continue;
    if (input.type === 'checkbox') input.checked = Boolean(v);
    else input.value = v;
  }
}

async function applyChaos(event) {
  event.preventDefault();
  const f = event.target;
  const body = {
    duplicateRate: Number(f.duplicateRate.value),
    failRate: Number(f.failRate.value),
    throttleRate: Number(f.throttleRate.value),
    dropRate: Number(f.dropRate.value),
    delayMs: Number(f.delayMs.value),
    reorder: f.reorder.checked,
  };
  const res = await sandbox('POST', 'chaos', body);
  $('#chaos-state').textContent = res.status === 200 ? 'applied' : `refused: ${res.body?.error?.message ?? res.status}`;
}

async function refreshEvents() {
  const res = await sandbox('GET', `events?after=${state.lastEvent}`);
  if (res.status !== 200 || !res.body.length) return;
  const list = $('#events');
  for (const e of res.body) {
    if (e.seq <= state.lastEvent) continue;
    state.lastEvent = e.seq;
    list.prepend(el('li', {}, el('details', {}, el('summary', {}, `${time(e.at)} ${e.kinds.join(', ')}`), el('pre', {}, JSON.stringify(e.envelope, null, 2)))));
  }
  while (list.children.length > 200) list.lastElementChild.remove();
}

/** The domain events the runtime saw on the events topic: type, subject, time and id, newest first. */
async function refreshDomainEvents() {
  const res = await call('GET', `/console/events?after=${state.lastDomainEvent}`);
  if (res.status !== 200 || !res.body.items.length) return;
  const list = $('#domain-events');
  for (const e of res.body.items) {
    if (e.seq <= state.lastDomainEvent) continue;
    state.lastDomainEvent = e.seq;
    const status = e.type === 'message.status' ? e.event.data?.status : undefined;
    list.prepend(
      el(
        'li',
        { 'data-type': e.type, 'data-subject': e.subject, 'data-id': e.id },
        el(
          'details',
          {},
          el('summary', {}, `${time(e.time)} `, el('span', { class: 'type' }, e.type), status ? ` ${status}` : '', ` ${e.subject} · id ${e.id}`),
          el('pre', {}, JSON.stringify(e.event, null, 2)),
        ),
      ),
    );
  }
  while (list.children.length > 200) list.lastElementChild.remove();
}

// ---------------------------------------------------------------------------------------------

async function start() {
  // Every handler is attached before the first request: a form used while the page still loads is
  // handled here, never submitted natively (which would reload the page and lose the input).
  $('#business-select').addEventListener('change', (e) => {
    state.business = e.target.value;
    refreshChat();
  });
  $('#user-select').addEventListener('change', (e) => {
    chooseUser(e.target.value);
    refreshChat();
  });
  $('#add-user').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = e.target;
    const res = await sandbox('POST', 'users', { phone: f.phone.value, ...(f.name.value ? { name: f.name.value } : {}) });
    if (res.status === 200 || res.status === 201) {
      chooseUser(res.body.key);
      f.reset();
      await refreshUsers();
      await refreshChat();
    } else alert(res.body?.error?.message ?? 'The user was refused.');
  });
  $('#user-composer').addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = e.target.text.value.trim();
    if (!text) return;
    e.target.reset();
    await userSends({ type: 'text', text: { body: text } });
  });
  for (const b of document.querySelectorAll('[data-send]')) {
    b.addEventListener('click', () => {
      const kind = b.dataset.send;
      if (kind === 'image') userSends({ type: 'image', image: { caption: 'a photo' } });
      else if (kind === 'document') userSends({ type: 'document', document: { caption: 'a document' } });
      else userSends({ type: 'location', location: { latitude: 37.44216, longitude: -122.16189, name: 'Philz Coffee', address: '101 Forest Ave, Palo Alto' } });
    });
  }
  $('#reply').addEventListener('submit', sendReply);
  $('#chaos').addEventListener('submit', applyChaos);
  const numbers = await sandbox('GET', 'phone-numbers');
  state.numbers = numbers.status === 200 ? numbers.body : [];
  state.business = state.numbers[0]?.phoneNumberId ?? null;
  $('#business-select').replaceChildren(...state.numbers.map((n) => el('option', { value: n.phoneNumberId }, `to +${n.displayPhoneNumber}`)));
  await loadChaos();
  await refreshUsers();
  document.documentElement.dataset.ready = 'true';
  const tick = async () => {
    try {
      await Promise.all([refreshChat(), refreshInbox(), refreshEvents(), refreshDomainEvents()]);
      await refreshUsers();
    } finally {
      setTimeout(tick, 1000);
    }
  };
  tick();
}

start();
