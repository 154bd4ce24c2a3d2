// The page: owns everything the user sees — messages, the user list, the input bar, the
// connection's state as shown, messages on their way out — and turns server frames and typed
// lines into changes. The socket and its backoff live in conn.js, text rules in text.js,
// drawing in view.js; the protocol is docs/PROTOCOL.md.

import { Conn } from './conn.js';
import { COMMANDS, KEYS, checkName, parse } from './command.js';
import { Completer, InputHistory } from './input.js';
import { Outbox, inputLine } from './outbox.js';
import { settings } from './settings.js';
import { NAMED, chars, cleanLine, colorLabel, mentions, nameKey, parseColor } from './text.js';
import { Log, dmLine, el, messageLine, nameEl, noteLine, paint, renderUsers } from './view.js';

const $ = (id) => document.getElementById(id);
const PAGE = 50;
const GAP_PAGE = 200;
const JOIN_RETRY_MS = 5000;
const MAX_JOIN_RETRIES = 6;
/** Frames sent at once from the outbox, then one per SEND_EVERY_MS (the server's default rate
 * is 5 a second with bursts of 10). */
const SEND_BURST = 8;
const SEND_EVERY_MS = 300;

const ui = {
  log: $('log'), users: $('users'), input: $('input'), count: $('count'), send: $('send'),
  status: $('status'), retry: $('retry'), room: $('room'), announce: $('announce'),
  jump: $('jump'), usersToggle: $('users-toggle'), setup: $('setup'),
};

const S = {
  me: null, // {name, color, room} from the last welcome
  want: { name: settings.name, color: settings.color, room: roomFromHash() ?? settings.room },
  joined: false,
  refused: false, // the last join was refused: system lines do not mean we are in
  ready: false, // joined and the room's history checked: the outbox may send
  maxText: 2000,
  users: [],
  colors: new Map(),
  joinHistory: false, // a `history` is due after our join or room switch
  pages: [], // our history requests, in the order the server answers them
  done: false, // the room's first message is shown
  floor: 0, // `/clear`ed up to this id
  unread: 0,
  below: 0, // new messages below the view
  links: [],
  joinedAs: null,
  joinRetries: 0,
  left: false,
  quitArmed: false,
  tokens: SEND_BURST,
  stats: { sent: 0, received: 0, met: new Set() },
};

const log = new Log(ui.log);
const outbox = new Outbox();
const pendingEls = new Map(); // cid -> the line showing it
const history = new InputHistory();
const completer = new Completer();
const conn = new Conn(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`, {
  open: onOpen,
  frame: onFrame,
  down: onDown,
  state: showState,
});

function roomFromHash() {
  const h = decodeURIComponent(location.hash.slice(1));
  return h ? h : null;
}

// ---- lines in the log ----

const note = (kind, text) => log.add(noteLine(kind, text));
const info = (text) => note('info', text);
const error = (text) => note('err', text);

function announce(text) {
  ui.announce.textContent = cleanLine(text).slice(0, 300);
}

function arrived(fromOthers, text) {
  if (!fromOthers) return;
  S.stats.received++;
  announce(text);
  if (document.hidden) S.unread++;
  if (!log.atBottom()) S.below++;
  showUnread();
}

function showUnread() {
  const room = S.me ? `#${S.me.room} — ` : '';
  document.title = (S.unread ? `(${S.unread}) ` : '') + room + 'Clicom';
  ui.jump.hidden = S.below === 0;
  ui.jump.textContent = `${S.below} new ↓`;
}

function remember(m) {
  if (m.color) {
    const key = nameKey(m.name);
    const known = S.colors.get(key);
    S.colors.set(key, m.color);
    if (known !== m.color && S.users.some((u) => nameKey(u) === key)) showUsers();
  }
}

const isMe = (name) => !!S.me && nameKey(name) === nameKey(S.me.name);

function roomLine(m) {
  remember(m);
  const mine = isMe(m.name);
  const li = messageLine(m, mine, !mine && mentions(m.text, S.me?.name));
  li.querySelectorAll('a').forEach((a) => S.links.push(a.href));
  return li;
}

function showMessage(m, live) {
  if (m.id != null && (log.has(m.id) || m.id <= S.floor)) return;
  log.add(roomLine(m), m.id);
  if (live) arrived(!isMe(m.name), `${m.action ? '* ' : ''}${m.name}${m.action ? ' ' : ': '}${m.text}`);
}

// ---- the connection ----

function onOpen() {
  S.joined = S.ready = S.refused = false;
  S.pages = [];
  join();
}

function join() {
  const frame = { type: 'join', name: S.want.name };
  if (S.want.color) frame.color = S.want.color;
  const room = S.me?.room ?? S.want.room;
  if (room) frame.room = room;
  // A name's claim token (names that stay yours) will be sent here once servers know it:
  // if (settings.token) frame.token = settings.token;
  S.joinHistory = true;
  S.refused = false;
  conn.send(frame);
}

function onDown(reason, wasOpen) {
  outbox.connectionLost();
  S.joined = S.ready = false;
  S.pages = [];
  if (wasOpen && !S.left) info(`Disconnected: ${reason}.`);
}

function joinedNow() {
  if (S.joined) return;
  S.joined = true;
  S.joinRetries = 0;
  S.joinedAs = nameKey(S.want.name);
  showState();
}

function onFrame(f) {
  if (!S.joined && !S.refused && ['system', 'active_users', 'message'].includes(f.type)) {
    // An old server sends no `welcome`: anything else after the join means we are in.
    if (!S.me) S.me = { name: S.want.name, color: S.want.color || '6', room: 'main' };
    joinedNow();
    S.joinHistory = false;
    checked();
  }
  switch (f.type) {
    case 'welcome':
      return onWelcome(f);
    case 'history':
      return onHistory(f);
    case 'message': {
      if (f.room && S.me && f.room !== S.me.room) return;
      const item = outbox.confirmEcho(f, S.me?.name);
      if (item) settled(item);
      return showMessage(f, true);
    }
    case 'dm': {
      const fromMe = isMe(f.from);
      const item = fromMe ? outbox.confirmEcho(f, S.me.name) : null;
      if (item) settled(item);
      log.add(dmLine(f, fromMe));
      return arrived(!fromMe, `private message from ${f.from}: ${f.text}`);
    }
    case 'system':
      return note('sys', String(f.text ?? ''));
    case 'active_users':
      if (!Array.isArray(f.users) || (f.room && S.me && f.room !== S.me.room)) return;
      S.users = f.users.map(String);
      S.users.forEach((u) => S.stats.met.add(nameKey(u)));
      return showUsers();
    case 'who':
      return Array.isArray(f.users) && info(`In the room (${f.users.length}): ${f.users.join(', ')}`);
    case 'rooms':
      return Array.isArray(f.rooms) && info('Rooms: ' + f.rooms.map((r) => `#${r.name} (${r.users})`).join(', '));
    case 'error':
      return onError(String(f.code ?? ''), String(f.text ?? ''), f.cid);
  }
}

function onWelcome(w) {
  const room = cleanLine(w.room ?? 'main');
  const moved = !S.me || S.me.room !== room;
  S.me = { name: cleanLine(w.name), color: parseColor(w.color) ?? '6', room };
  if (Number.isInteger(w.max_text) && w.max_text > 0) S.maxText = w.max_text;
  S.want = { name: S.me.name, color: S.me.color, room };
  settings.name = S.me.name;
  settings.color = S.me.color;
  settings.room = room === 'main' ? '' : room;
  joinedNow();
  if (moved) enterRoom(room);
  showUsers();
  showInput();
  if (S.joinHistory) setTimeout(() => S.joinHistory && S.joined && ((S.joinHistory = false), checked()), 1500);
}

function enterRoom(room) {
  log.clear();
  S.users = [];
  S.done = false;
  S.floor = 0;
  S.below = 0;
  ui.room.textContent = '#' + room;
  ui.input.placeholder = `Message #${room} — /help`;
  history.pos = history.lines.length;
  const hash = room === 'main' ? '' : '#' + encodeURIComponent(room);
  if (location.hash !== hash) window.history.replaceState(null, '', location.pathname + hash);
  for (const item of outbox.withdraw(room)) failed(item, `not sent: it was written for #${item.room}`);
  showUnread();
}

function onHistory(h) {
  if (!Array.isArray(h.messages) || (S.me && h.room && h.room !== S.me.room)) return;
  const messages = h.messages.filter((m) => m && typeof m.text === 'string');
  if (S.joinHistory) {
    S.joinHistory = false;
    for (const item of outbox.confirmHistory(messages, S.me?.name)) settled(item);
    const newest = log.newestId();
    const first = messages.length ? messages[0].id : null;
    for (const m of messages) showMessage(m, false);
    if (messages.length === 0) reachedStart();
    if (newest != null && first != null && first > newest + 1) askHistory(first, Math.min(GAP_PAGE, first - newest - 1), newest);
    checked();
  } else {
    const ask = S.pages.shift();
    if (!ask) return;
    const fresh = messages.filter((m) => m.id != null && !log.has(m.id) && m.id > S.floor);
    if (ask.gapFloor != null) {
      fresh.forEach((m) => showMessage(m, false));
      const first = messages.length ? messages[0].id : null;
      if (messages.length === ask.limit && first > ask.gapFloor + 1) {
        askHistory(first, Math.min(GAP_PAGE, first - ask.gapFloor - 1), ask.gapFloor);
      }
    } else {
      log.prepend(fresh.map((m) => [roomLine(m), m.id]));
      if (messages.length < ask.limit) reachedStart();
    }
  }
  fillView();
}

function reachedStart() {
  if (S.done || !S.me) return;
  S.done = true;
  const first = ui.log.querySelector('[data-id]');
  ui.log.prepend(noteLine('sys', `This is the beginning of #${S.me.room}.`, first ? +first.dataset.ts : Date.now()));
  log.separate();
}

function askHistory(before, limit, gapFloor = null) {
  if (!S.joined || !conn.send({ type: 'history', room: S.me.room, before, limit })) return;
  S.pages.push({ limit, gapFloor });
}

/** Loads older messages when the view is near the top, or not even full. */
function fillView() {
  const l = ui.log;
  if (S.done || !S.ready || S.pages.length || l.scrollTop > 300) return;
  const oldest = log.oldestId();
  if (oldest == null || oldest <= S.floor + 1) return;
  askHistory(oldest, PAGE);
}

/** The room's history is in: what was sent before a drop is confirmed or not; send the rest. */
function checked() {
  S.ready = true;
  showState();
  pump();
  fillView();
}

function onError(code, text, cid) {
  const joining = !S.joined;
  switch (code) {
    case 'name_taken':
    case 'invalid_name':
      if (!joining) return error(text);
      S.refused = true;
      S.joinHistory = false;
      if (code === 'name_taken' && S.joinedAs === nameKey(S.want.name) && S.joinRetries < MAX_JOIN_RETRIES) {
        S.joinRetries++;
        info('The server still holds your previous connection; joining again in 5 s.');
        setTimeout(() => conn.state === 'open' && !S.joined && join(), JOIN_RETRY_MS);
        return;
      }
      return openSetup(text);
    case 'invalid_color':
      S.want.color = '';
      return error(text);
    case 'invalid_room':
      S.joinHistory = false;
      error(text);
      if (joining) {
        S.want.room = null;
        S.me = S.me && { ...S.me, room: 'main' };
        settings.room = '';
        join();
      }
      return;
    case 'too_long':
    case 'empty_message':
    case 'rate_limited':
    case 'muted':
    case 'no_such_user': {
      const item = outbox.refuse(cid, code === 'no_such_user');
      return item ? failed(item, `not sent (${text})`) : error(text);
    }
    case 'history_unavailable':
      S.pages.shift();
      return error(text);
    default:
      if (joining && text) S.refused = true;
      return error(text || `error ${code}`);
  }
}

// ---- sending ----

function queue(kind, text, to = null) {
  const item = outbox.push(kind, text, { to, room: S.me?.room ?? S.want.room ?? 'main' });
  const li = el('li', 'msg mine pending');
  li.dataset.ts = Date.now();
  const me = S.me?.name ?? S.want.name;
  const color = S.me?.color ?? S.want.color;
  if (kind === 'me') li.append('* ', nameEl(me, color), ' ', text);
  else if (kind === 'dm') li.append(el('span', 'tag', 'DM'), ' you → ', nameEl(to, null), ': ', text);
  else li.append(nameEl(me, color), ': ', text);
  li.append(' ', el('span', 'state', 'pending'));
  pendingEls.set(item.cid, li);
  log.add(li);
  log.scrollToBottom();
  pump();
}

let pumpTimer = null;
function pump() {
  clearTimeout(pumpTimer);
  if (!S.ready) return showState();
  for (const item of outbox.unsent().slice(0, Math.max(0, Math.floor(S.tokens)))) {
    if (!conn.send(Outbox.frame(item))) break;
    outbox.markSent(item);
    S.tokens--;
    pendingEls.get(item.cid)?.querySelector('.state')?.replaceChildren('sending');
  }
  if (outbox.unsent().length || S.tokens < SEND_BURST) {
    pumpTimer = setTimeout(() => {
      S.tokens = Math.min(SEND_BURST, S.tokens + 1);
      pump();
    }, SEND_EVERY_MS);
  }
  showState();
}

function settled(item) {
  pendingEls.get(item.cid)?.remove();
  pendingEls.delete(item.cid);
  S.stats.sent++;
  showState();
}

function failed(item, why) {
  const li = pendingEls.get(item.cid);
  pendingEls.delete(item.cid);
  if (li) {
    li.classList.replace('pending', 'failed');
    li.querySelector('.state').textContent = 'not sent';
  }
  history.push(inputLine(item));
  error(`${why}: ${item.text} — it is in your input history (↑)`);
  showState();
}

// ---- the input bar ----

function submit() {
  const line = ui.input.value;
  const r = parse(line, S.users);
  if (!r) return;
  if (r.error) return error(r.error);
  const text = r.chat ?? r.text;
  if (text != null && chars(text) > S.maxText) {
    return error(`Message too long: ${chars(text)} characters; the limit is ${S.maxText}.`);
  }
  if (!r.cmd || !['quit', 'reconnect'].includes(r.cmd)) S.quitArmed = false;
  if (r.chat != null) queue('chat', r.chat);
  else if (!run(r)) return;
  history.push(line);
  setInput('');
}

const needsServer = (what) => {
  if (S.joined) return true;
  error(`Not connected: ${what} works once the connection is back.`);
  return false;
};

/** Carries out a command; false keeps the line in the input bar. */
function run(r) {
  switch (r.cmd) {
    case 'help':
      info('Commands: ' + COMMANDS.map(([, , usage, what]) => `${usage} — ${what}`).join('; ') + '. //text sends /text.');
      info('Keys: ' + KEYS.map(([k, what]) => `${k}: ${what}`).join('; ') + '.');
      return true;
    case 'me':
      queue('me', r.text);
      return true;
    case 'msg':
      queue('dm', r.text, r.to);
      return true;
    case 'who':
    case 'rooms':
      return needsServer('/' + r.cmd) && conn.send({ type: r.cmd });
    case 'join':
      if (!needsServer('/join')) return false;
      S.joinHistory = true;
      return conn.send({ type: 'join_room', room: r.room });
    case 'nick':
      return needsServer('/nick') && conn.send({ type: 'nick', name: r.name });
    case 'color':
      if (!r.color) {
        info(`Your colour is ${colorLabel(S.me?.color ?? S.want.color ?? '6')}. Choices: ${NAMED.map((n, i) => `${i + 1} ${n}`).join(', ')}, or #rrggbb.`);
        return true;
      }
      return needsServer('/color') && conn.send({ type: 'color', color: r.color });
    case 'open': {
      const href = S.links[S.links.length - r.n];
      if (!href) return error('No such link.'), false;
      window.open(href, '_blank', 'noopener,noreferrer');
      return true;
    }
    case 'stats':
      info(`This visit: ${S.stats.sent} sent, ${S.stats.received} received, ${S.stats.met.size} people met.`);
      return true;
    case 'clear':
      S.floor = Math.max(S.floor, log.newestId() ?? 0);
      log.clear();
      S.below = 0;
      showUnread();
      return true;
    case 'reconnect':
      S.left = false;
      conn.retryNow();
      return true;
    case 'quit':
      if (outbox.size && !S.quitArmed) {
        S.quitArmed = true;
        error(`${outbox.size} message(s) not sent yet would be lost; /quit again to leave anyway.`);
        return false;
      }
      conn.send({ type: 'leave' });
      S.left = true;
      conn.stop();
      for (const item of outbox.items.splice(0)) failed(item, 'not sent: you left');
      info('You left the chat. /reconnect (or the button above) joins again.');
      return true;
  }
  return false;
}

function setInput(value, caret = value.length) {
  ui.input.value = value;
  ui.input.setSelectionRange(caret, caret);
  showInput();
}

/** The counter and the height of the input bar follow what is typed. */
function showInput() {
  const value = ui.input.value;
  const r = value.startsWith('/') ? parse(value, S.users) : { chat: value };
  const n = chars(r?.chat ?? r?.text ?? '');
  const over = n > S.maxText;
  ui.count.hidden = n < S.maxText * 0.8;
  ui.count.textContent = over ? `${n}/${S.maxText}: too long by ${n - S.maxText}` : `${n}/${S.maxText}`;
  ui.count.classList.toggle('over', over);
  ui.input.setAttribute('aria-invalid', String(over));
  ui.send.disabled = over;
  ui.input.style.height = 'auto';
  ui.input.style.height = Math.min(ui.input.scrollHeight, 160) + 'px';
}

ui.input.addEventListener('keydown', (e) => {
  const i = ui.input;
  if (e.key !== 'Tab' && e.key !== 'Shift') completer.reset();
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  } else if (e.key === 'Tab' && !e.altKey && !e.ctrlKey) {
    const r = completer.complete(i.value, i.selectionStart, S.users, e.shiftKey);
    if (r) {
      e.preventDefault();
      setInput(r.value, r.caret);
    }
  } else if ((e.key === 'ArrowUp' || e.key === 'ArrowDown') && i.selectionStart === i.selectionEnd) {
    const up = e.key === 'ArrowUp';
    const edge = up ? !i.value.slice(0, i.selectionStart).includes('\n') : !i.value.slice(i.selectionEnd).includes('\n');
    const line = edge ? history.move(up ? -1 : 1, i.value) : null;
    if (line != null) {
      e.preventDefault();
      setInput(line);
    }
  } else if (e.key === 'PageUp' || e.key === 'PageDown') {
    e.preventDefault();
    ui.log.scrollBy(0, (e.key === 'PageUp' ? -0.9 : 0.9) * ui.log.clientHeight);
  }
});
ui.input.addEventListener('input', showInput);
$('bar').addEventListener('submit', (e) => {
  e.preventDefault();
  submit();
  ui.input.focus();
});

// ---- the rest of the page ----

function showUsers() {
  renderUsers(ui.users, S.users, S.me?.name, (u) => S.colors.get(nameKey(u)), (u) => {
    setInput(`/msg ${/\s/.test(u) ? `"${u}"` : u} `);
    ui.input.focus();
    document.body.classList.remove('show-users');
  });
  ui.usersToggle.textContent = `Users (${S.users.length})`;
  $('users-title').textContent = `In #${S.me?.room ?? 'main'} (${S.users.length})`;
}

let countdown = null;
function showState() {
  clearInterval(countdown);
  const pending = outbox.size ? ` · ${outbox.size} pending` : '';
  let text;
  ui.retry.hidden = true;
  switch (conn.state) {
    case 'connecting':
      text = 'Connecting…';
      break;
    case 'open':
      text = S.joined ? '● Connected' : 'Joining…';
      break;
    case 'waiting': {
      const left = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
      text = `Reconnecting in ${left} s (attempt ${conn.attempt})`;
      ui.retry.hidden = false;
      ui.retry.textContent = 'Retry now';
      countdown = setInterval(showState, 250);
      break;
    }
    default:
      text = S.left ? 'You left the chat' : 'Offline';
      ui.retry.hidden = !S.left;
      ui.retry.textContent = 'Join again';
  }
  ui.status.textContent = text + pending;
  ui.status.dataset.state = conn.state;
  ui.send.title = S.ready ? '' : 'Messages are kept and sent once the connection is back';
}

ui.retry.addEventListener('click', () => run({ cmd: 'reconnect' }));
ui.log.addEventListener('scroll', () => {
  if (log.atBottom() && S.below) {
    S.below = 0;
    showUnread();
  }
  fillView();
});
ui.jump.addEventListener('click', () => {
  log.scrollToBottom();
  ui.input.focus();
});
ui.usersToggle.addEventListener('click', () => {
  const open = document.body.classList.toggle('show-users');
  ui.usersToggle.setAttribute('aria-expanded', String(open));
});
$('settings').addEventListener('click', () => openSetup(''));
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) {
    S.unread = 0;
    showUnread();
  }
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !ui.setup.open) {
    document.body.classList.remove('show-users');
    ui.input.focus();
  }
});
window.addEventListener('online', () => conn.state === 'waiting' && conn.retryNow());
window.addEventListener('beforeunload', (e) => {
  if (outbox.size) e.preventDefault();
});

// ---- name and colour ----

const setupForm = $('setup-form');
const setupName = $('setup-name');
const custom = $('setup-custom');

function chosenColor() {
  const v = setupForm.elements.color.value;
  return v === 'custom' ? custom.value.toLowerCase() : v;
}

function preview() {
  const p = $('setup-preview');
  p.replaceChildren(nameEl(setupName.value.trim() || 'you', chosenColor()), ': hello!');
}

function openSetup(problem) {
  setupName.value = S.me?.name ?? S.want.name ?? '';
  const c = S.me?.color ?? S.want.color ?? '';
  const named = /^[1-6]$/.test(c) ? c : c ? 'custom' : String(1 + Math.floor(Math.random() * 6));
  if (named === 'custom') custom.value = c;
  setupForm.elements.color.value = named;
  $('setup-error').textContent = problem;
  $('setup-title').textContent = S.joined ? 'Your name and colour' : 'Welcome to Clicom';
  preview();
  if (!ui.setup.open) ui.setup.showModal();
  setupName.focus();
  setupName.select();
}

setupForm.addEventListener('input', (e) => {
  if (e.target === custom) setupForm.elements.color.value = 'custom';
  preview();
});
setupForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const r = checkName(setupName.value);
  if (r.error) {
    $('setup-error').textContent = r.error[0].toUpperCase() + r.error.slice(1) + '.';
    return setupName.focus();
  }
  const color = chosenColor();
  ui.setup.close();
  ui.input.focus();
  if (S.joined) {
    if (r.name !== S.me.name) conn.send({ type: 'nick', name: r.name });
    if (color !== S.me.color) conn.send({ type: 'color', color });
    return;
  }
  S.want.name = r.name;
  S.want.color = color;
  if (conn.state === 'open') join();
  else if (conn.state === 'stopped' && !S.left) conn.start();
});
ui.setup.addEventListener('cancel', (e) => {
  // The first time there is no name to go back to.
  if (!S.want.name) e.preventDefault();
});
for (const [i, n] of NAMED.entries()) paint($(`swatch-${i + 1}`), String(i + 1)), ($(`swatch-${i + 1}`).title = n);

// ---- start ----

showUnread();
showUsers();
showInput();
if (S.want.name) conn.start();
else openSetup('');
showState();
