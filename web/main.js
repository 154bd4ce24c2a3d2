// The page: owns everything the user sees — messages, the user list, the input bar, the
// connection's state as shown, messages on their way out — and turns server frames and typed
// lines into changes. The socket and its backoff live in conn.js, text rules in text.js,
// drawing in view.js, the name dialog in setup.js; the protocol is docs/PROTOCOL.md.

import { Conn } from './conn.js';
import { COMMANDS, KEYS, parse } from './command.js';
import { Completer, InputHistory } from './input.js';
import { Outbox, inputLine } from './outbox.js';
import { settings } from './settings.js';
import { openSetup } from './setup.js';
import { NAMED, chars, cleanLine, colorLabel, mentions, nameKey, parseColor } from './text.js';
import { Log, dmLine, el, messageLine, nameEl, noteLine, renderUsers } from './view.js';

const $ = (id) => document.getElementById(id);
const PAGE = 50;
const GAP_PAGE = 200;
const MAX_LINES = 2000; // older lines are dropped (and paged in again on scrolling up)
const JOIN_RETRY_MS = 5000;
const MAX_JOIN_RETRIES = 6;
// The outbox sends at most SEND_BURST at once, then one per SEND_EVERY_MS (the server's
// default rate is 5 a second with bursts of 10).
const SEND_BURST = 8;
const SEND_EVERY_MS = 300;

const input = $('input');
const logEl = $('log');

const S = {
	me: null, // {name, color, room} from the last welcome
	want: { name: settings.name, color: settings.color, room: roomFromHash() ?? settings.room },
	joined: false,
	refused: false, // the last join was refused: system lines do not mean we are in
	ready: false, // joined and the room's history checked: the outbox may send
	maxText: 2000,
	users: [],
	colors: new Map(), // name key -> colour last seen
	switching: false, // a join or room switch is on its way: its welcome brings a history
	joinHistory: false, // that history is due (answers to our own requests come before it)
	pages: [], // our history requests, in the order the server answers them
	done: false, // the room's first message is shown
	floor: 0, // `/clear`ed up to this id
	unread: 0, // while the tab is hidden
	below: 0, // below the view
	joinedAs: null,
	joinRetries: 0,
	left: false,
	quitArmed: false,
	tokens: SEND_BURST,
	stats: { sent: 0, received: 0, met: new Set() },
};

const log = new Log(logEl);
const outbox = new Outbox();
const pendingEls = new Map(); // cid -> the line showing it
const history = new InputHistory();
const completer = new Completer();
const conn = new Conn(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`, {
	open: () => {
		S.pages = [];
		join();
	},
	frame: onFrame,
	down: (reason, wasOpen) => {
		outbox.connectionLost();
		S.joined = S.ready = false;
		if (wasOpen && !S.left) info(`Disconnected: ${reason}.`);
	},
	state: showState,
});

function roomFromHash() {
	try {
		return decodeURIComponent(location.hash.slice(1)) || null;
	} catch {
		return null;
	}
}

// ---- lines in the log ----

const note = (kind, text) => log.add(noteLine(kind, text));
const info = (text) => note('info', text);
const error = (text) => note('err', text);
const isMe = (name) => !!S.me && nameKey(name) === nameKey(S.me.name);

/** Something from someone else: read out, and counted while unseen. */
function arrived(text) {
	S.stats.received++;
	$('announce').textContent = cleanLine(text).slice(0, 300);
	if (document.hidden) S.unread++;
	if (!log.atBottom()) S.below++;
	showUnread();
}

function showUnread() {
	document.title = (S.unread ? `(${S.unread}) ` : '') + (S.me ? `#${S.me.room} — ` : '') + 'Clicom';
	$('jump').hidden = !S.below;
	$('jump').textContent = `${S.below} new ↓`;
}

/** A room message's line; its sender's colour is remembered for the user list. */
function roomLine(m) {
	const key = nameKey(m.name);
	if (m.color && S.colors.get(key) !== m.color) {
		S.colors.set(key, m.color);
		if (S.users.some((u) => nameKey(u) === key)) showUsers();
	}
	const mine = isMe(m.name);
	return messageLine(m, mine, !mine && mentions(m.text, S.me?.name));
}

function showMessage(m, live) {
	if (m.id != null && (log.has(m.id) || m.id <= S.floor)) return;
	log.add(roomLine(m), m.id);
	if (log.trim(MAX_LINES)) S.done = false;
	if (live && !isMe(m.name)) arrived(m.action ? `* ${m.name} ${m.text}` : `${m.name}: ${m.text}`);
}

// ---- the session ----

function join() {
	const frame = { type: 'join', name: S.want.name };
	if (S.want.color) frame.color = S.want.color;
	const room = S.me?.room ?? S.want.room;
	if (room) frame.room = room;
	// A name's claim token (names that stay yours) goes here once servers know it:
	// if (settings.token) frame.token = settings.token;
	S.switching = true;
	S.joined = S.ready = S.refused = false;
	conn.send(frame);
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
		S.me ??= { name: S.want.name, color: S.want.color || '6', room: 'main' };
		joinedNow();
		S.switching = S.joinHistory = false;
		checked();
	}
	switch (f.type) {
		case 'welcome':
			return onWelcome(f);
		case 'history':
			return onHistory(f);
		case 'message':
			if (f.room && S.me && f.room !== S.me.room) return;
			settled(outbox.confirmEcho(f, S.me?.name));
			return showMessage(f, true);
		case 'dm': {
			const fromMe = isMe(f.from);
			if (fromMe) settled(outbox.confirmEcho(f, S.me.name));
			log.add(dmLine(f, fromMe));
			return fromMe || arrived(`private message from ${f.from}: ${f.text}`);
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
	const moved = S.me?.room !== room;
	S.me = { name: cleanLine(w.name), color: parseColor(w.color) ?? '6', room };
	if (Number.isInteger(w.max_text) && w.max_text > 0) S.maxText = w.max_text;
	S.want = { ...S.me };
	settings.name = S.me.name;
	settings.color = S.me.color;
	settings.room = room === 'main' ? '' : room;
	joinedNow();
	if (moved) enterRoom(room);
	showUsers();
	showInput();
	if (!S.switching) return;
	S.switching = false;
	S.joinHistory = true;
	// An old server sends no history: do not wait for it for ever.
	setTimeout(() => S.joinHistory && S.joined && ((S.joinHistory = false), checked()), 1500);
}

function enterRoom(room) {
	log.clear();
	Object.assign(S, { users: [], done: false, floor: 0, below: 0 });
	$('room').textContent = '#' + room;
	input.placeholder = `Message #${room} — /help`;
	const hash = room === 'main' ? '' : '#' + encodeURIComponent(room);
	if (location.hash !== hash) window.history.replaceState(null, '', location.pathname + hash);
	for (const item of outbox.withdraw(room)) failed(item, `not sent: it was written for #${item.room}`);
	showUnread();
}

function onHistory(h) {
	if (!Array.isArray(h.messages)) return;
	// An answer for a room left meanwhile is still the answer to our oldest request.
	if (S.me && h.room && h.room !== S.me.room) return S.joinHistory || S.pages.shift();
	const messages = h.messages.filter((m) => m && typeof m.text === 'string');
	const first = messages[0]?.id;
	if (S.joinHistory) {
		// After a (re)join: confirm what was sent before a drop, show what was missed, and ask
		// for the rest if more was missed than the server sent.
		S.joinHistory = false;
		outbox.confirmHistory(messages, S.me?.name).forEach(settled);
		const newest = log.newestId();
		messages.forEach((m) => showMessage(m, false));
		if (!messages.length) reachedStart();
		if (newest != null && first > newest + 1) askHistory(first, Math.min(GAP_PAGE, first - newest - 1), newest);
		checked();
	} else {
		const ask = S.pages.shift();
		if (!ask) return;
		const fresh = messages.filter((m) => m.id != null && !log.has(m.id) && m.id > S.floor);
		if (ask.gapFloor == null) {
			log.prepend(fresh.map((m) => [roomLine(m), m.id]));
			if (messages.length < ask.limit) reachedStart();
		} else {
			fresh.forEach((m) => showMessage(m, false));
			if (messages.length === ask.limit && first > ask.gapFloor + 1) {
				askHistory(first, Math.min(GAP_PAGE, first - ask.gapFloor - 1), ask.gapFloor);
			}
		}
	}
	fillView();
}

function reachedStart() {
	if (S.done || !S.me) return;
	S.done = true;
	const first = logEl.querySelector('[data-id]');
	logEl.prepend(noteLine('sys', `This is the beginning of #${S.me.room}.`, first ? +first.dataset.ts : Date.now()));
	log.separate();
}

function askHistory(before, limit, gapFloor = null) {
	if (S.joined && conn.send({ type: 'history', room: S.me.room, before, limit })) S.pages.push({ limit, gapFloor });
}

/** Loads older messages when the view is near the top (or not even full). */
function fillView() {
	const oldest = log.oldestId();
	if (S.done || !S.ready || S.pages.length || logEl.scrollTop > 300 || oldest == null) return;
	if (oldest > S.floor + 1) askHistory(oldest, PAGE);
}

/** The room's history is in: what was sent before a drop is confirmed or not; send the rest. */
function checked() {
	S.ready = true;
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
			S.switching = false;
			if (code === 'name_taken' && S.joinedAs === nameKey(S.want.name) && S.joinRetries < MAX_JOIN_RETRIES) {
				// Most likely our own connection from before the drop, not yet gone on the server.
				S.joinRetries++;
				info('The server still holds your previous connection; joining again in 5 s.');
				return setTimeout(() => conn.state === 'open' && !S.joined && join(), JOIN_RETRY_MS);
			}
			return askName(text);
		case 'invalid_color':
			S.want.color = '';
			return error(text);
		case 'invalid_room':
			S.switching = false;
			error(text);
			if (joining) {
				S.want.room = settings.room = '';
				if (S.me) S.me.room = 'main';
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
			if (joining) S.refused = true;
			return error(text || `error ${code}`);
	}
}

// ---- sending ----

function queue(kind, text, to = null) {
	const item = outbox.push(kind, text, { to, room: S.me?.room ?? (S.want.room || 'main') });
	const me = nameEl(S.me?.name ?? S.want.name, S.me?.color ?? S.want.color);
	const li = el('li', 'msg mine pending');
	li.dataset.ts = Date.now();
	if (kind === 'me') li.append('* ', me, ' ', text);
	else if (kind === 'dm') li.append(el('span', 'tag', 'DM'), ' you → ', nameEl(to, null), ': ', text);
	else li.append(me, ': ', text);
	li.append(' ', el('span', 'state', 'pending'));
	pendingEls.set(item.cid, li);
	log.add(li);
	log.scrollToBottom();
	pump();
}

let pumpTimer = null;
function pump() {
	clearTimeout(pumpTimer);
	for (const item of S.ready ? outbox.unsent().slice(0, S.tokens) : []) {
		if (!conn.send(Outbox.frame(item))) break;
		outbox.markSent(item);
		S.tokens--;
		pendingEls.get(item.cid)?.querySelector('.state').replaceChildren('sending');
	}
	if (S.tokens < SEND_BURST) {
		pumpTimer = setTimeout(() => {
			S.tokens++;
			pump();
		}, SEND_EVERY_MS);
	}
	showState();
}

/** `item` was confirmed by the server (or nothing was, for null). */
function settled(item) {
	if (!item) return;
	pendingEls.get(item.cid)?.remove();
	pendingEls.delete(item.cid);
	S.stats.sent++;
	showState();
}

function failed(item, why) {
	const li = pendingEls.get(item.cid);
	pendingEls.delete(item.cid);
	li?.classList.replace('pending', 'failed');
	li?.querySelector('.state').replaceChildren('not sent');
	history.push(inputLine(item));
	error(`${why}: ${item.text} — it is in your input history (↑)`);
	showState();
}

// ---- the input bar ----

function submit() {
	const line = input.value;
	const r = parse(line, S.users);
	if (!r) return;
	if (r.error) return error(r.error);
	const text = r.chat ?? r.text;
	if (text != null && chars(text) > S.maxText) {
		return error(`Message too long: ${chars(text)} characters; the limit is ${S.maxText}.`);
	}
	if (r.cmd !== 'quit') S.quitArmed = false;
	if (r.chat != null) queue('chat', r.chat);
	else if (!run(r)) return;
	history.push(line);
	setInput('');
}

/** Sends `frame` for `/what` if joined; else says why not. */
function ask(what, frame) {
	if (S.joined) return conn.send(frame);
	error(`Not connected: /${what} works once the connection is back.`);
	return false;
}

/** Carries out a command; false keeps the line in the input bar. */
function run(r) {
	switch (r.cmd) {
		case 'help':
			info('Commands: ' + COMMANDS.map(([, , usage, what]) => `${usage} — ${what}`).join('; ') + '. //text sends /text.');
			info('Keys: ' + KEYS.map(([k, what]) => `${k}: ${what}`).join('; ') + '.');
			return true;
		case 'me':
		case 'msg':
			queue(r.cmd === 'me' ? 'me' : 'dm', r.text, r.to);
			return true;
		case 'who':
		case 'rooms':
			return ask(r.cmd, { type: r.cmd });
		case 'join':
			return ask('join', { type: 'join_room', room: r.room }) && (S.switching = true);
		case 'nick':
			return ask('nick', { type: 'nick', name: r.name });
		case 'color':
			if (r.color) return ask('color', { type: 'color', color: r.color });
			info(`Your colour is ${colorLabel(S.me?.color ?? (S.want.color || '6'))}. Choices: ${NAMED.map((n, i) => `${i + 1} ${n}`).join(', ')}, or #rrggbb.`);
			return true;
		case 'open': {
			const links = logEl.querySelectorAll('a');
			const a = links[links.length - r.n];
			if (a) window.open(a.href, '_blank', 'noopener,noreferrer');
			else error('No such link.');
			return !!a;
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
			outbox.items.splice(0).forEach((item) => failed(item, 'not sent: you left'));
			info('You left the chat. /reconnect (or the button above) joins again.');
			return true;
	}
	return false;
}

function setInput(value, caret = value.length) {
	input.value = value;
	input.setSelectionRange(caret, caret);
	showInput();
}

/** The length counter (near and over the server's limit) and the bar's height. */
function showInput() {
	const r = input.value.startsWith('/') ? parse(input.value, S.users) : { chat: input.value };
	const n = chars(r?.chat ?? r?.text ?? '');
	const over = n > S.maxText;
	const count = $('count');
	count.hidden = n < S.maxText * 0.8;
	count.textContent = `${n}/${S.maxText}` + (over ? `: too long by ${n - S.maxText}` : '');
	count.classList.toggle('over', over);
	input.setAttribute('aria-invalid', over);
	$('send').disabled = over;
	input.style.height = 'auto';
	input.style.height = Math.min(input.scrollHeight, 160) + 'px';
}

input.addEventListener('keydown', (e) => {
	const { value, selectionStart: at, selectionEnd: end } = input;
	if (e.key !== 'Tab' && e.key !== 'Shift') completer.reset();
	let to = null;
	if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
		submit();
	} else if (e.key === 'Tab' && !e.altKey && !e.ctrlKey) {
		// Nothing to complete: Tab moves on, so the keyboard is never trapped here.
		to = completer.complete(value, at, S.users, e.shiftKey);
		if (!to) return;
	} else if ((e.key === 'ArrowUp' || e.key === 'ArrowDown') && at === end) {
		const up = e.key === 'ArrowUp';
		const edge = !(up ? value.slice(0, at) : value.slice(at)).includes('\n');
		const line = edge ? history.move(up ? -1 : 1, value) : null;
		if (line == null) return;
		to = { value: line, caret: line.length };
	} else if (e.key === 'PageUp' || e.key === 'PageDown') {
		logEl.scrollBy(0, (e.key === 'PageUp' ? -0.9 : 0.9) * logEl.clientHeight);
	} else {
		return;
	}
	e.preventDefault();
	if (to) setInput(to.value, to.caret);
});
input.addEventListener('input', showInput);
$('bar').addEventListener('submit', (e) => {
	e.preventDefault();
	submit();
	input.focus();
});

// ---- the rest of the page ----

function showUsers() {
	renderUsers($('users'), S.users, S.me?.name, (u) => S.colors.get(nameKey(u)), (u) => {
		setInput(`/msg ${/\s/.test(u) ? `"${u}"` : u} `);
		input.focus();
		document.body.classList.remove('show-users');
	});
	$('users-toggle').textContent = `Users (${S.users.length})`;
	$('users-title').textContent = `In #${S.me?.room ?? 'main'} (${S.users.length})`;
}

let ticking = null;
/** The connection's state in the header. The countdown is apart from the state, so a screen
 * reader hears "Reconnecting" once, not every second. */
function showState() {
	clearInterval(ticking);
	const waiting = conn.state === 'waiting';
	const text =
		{ connecting: 'Connecting…', open: S.joined ? '● Connected' : 'Joining…', waiting: 'Reconnecting' }[conn.state] ??
		(S.left ? 'You left the chat' : 'Offline');
	const pending = outbox.size ? ` · ${outbox.size} pending` : '';
	for (const [id, t] of [['state', text], ['pending', pending]]) if ($(id).textContent !== t) $(id).textContent = t;
	const tick = () => {
		const left = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
		$('countdown').textContent = waiting ? ` in ${left} s (attempt ${conn.attempt})` : '';
	};
	tick();
	if (waiting) ticking = setInterval(tick, 250);
	$('status').dataset.state = conn.state;
	$('retry').hidden = !waiting && !S.left;
	$('retry').textContent = waiting ? 'Retry now' : 'Join again';
}

function askName(problem) {
	openSetup({
		now: S.me ?? S.want,
		problem,
		title: S.joined ? 'Your name and colour' : 'Welcome to Clicom',
		cancellable: !!S.want.name,
		done: (name, color) => {
			input.focus();
			if (S.joined) {
				if (name !== S.me.name) conn.send({ type: 'nick', name });
				if (color !== S.me.color) conn.send({ type: 'color', color });
				return;
			}
			Object.assign(S.want, { name, color });
			if (conn.state === 'open') join();
			else if (conn.state === 'stopped' && !S.left) conn.start();
		},
	});
}

$('retry').addEventListener('click', () => run({ cmd: 'reconnect' }));
$('settings').addEventListener('click', () => askName(''));
logEl.addEventListener('scroll', () => {
	if (S.below && log.atBottom()) {
		S.below = 0;
		showUnread();
	}
	fillView();
});
$('jump').addEventListener('click', () => {
	log.scrollToBottom();
	input.focus();
});
$('users-toggle').addEventListener('click', (e) => {
	e.target.setAttribute('aria-expanded', document.body.classList.toggle('show-users'));
});
document.addEventListener('visibilitychange', () => {
	if (!document.hidden) {
		S.unread = 0;
		showUnread();
	}
});
document.addEventListener('keydown', (e) => {
	if (e.key === 'Escape' && !$('setup').open) {
		document.body.classList.remove('show-users');
		input.focus();
	}
});
window.addEventListener('online', () => conn.state === 'waiting' && conn.retryNow());
window.addEventListener('beforeunload', (e) => outbox.size && e.preventDefault());

showUnread();
showUsers();
showInput();
if (S.want.name) conn.start();
else askName('');
showState();
