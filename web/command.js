// What a line typed in the input bar means: chat text or a slash command, checked here (names,
// rooms, colours) so that a mistake is a local error and never goes out as chat. The same
// commands as the terminal client; the table drives /help and Tab completion.

import { cleanLine, nameKey, parseColor } from './text.js';

/** Every command in /help order: [name, aliases, usage, what it does]. */
export const COMMANDS = [
	['help', [], '/help', 'show commands and keys'],
	['msg', ['dm', 'query'], '/msg USER TEXT', 'send a private message'],
	['me', [], '/me ACTION', 'describe an action (* you waves)'],
	['who', ['list', 'names'], '/who', 'list who is in the room'],
	['join', [], '/join ROOM', 'switch to another room (created on demand)'],
	['rooms', [], '/rooms', 'list the rooms on this server'],
	['nick', [], '/nick NAME', 'change your name (remembered in this browser)'],
	['color', ['colour'], '/color [1-6|#rrggbb]', 'change your colour (remembered)'],
	['open', [], '/open [N]', 'open the latest link, or the N-th latest'],
	['stats', [], '/stats', 'messages sent and received, people met'],
	['clear', [], '/clear', 'clear the message list'],
	['reconnect', [], '/reconnect', 'reconnect now instead of waiting'],
	['quit', ['exit'], '/quit', 'leave the chat (/reconnect comes back)'],
];

export const KEYS = [
	['Enter', 'send (Shift+Enter: new line)'],
	['Tab, Shift+Tab', 'complete a name or command; again to cycle'],
	['↑ / ↓', 'input history (on the first / last line)'],
	['Page Up / Down', 'scroll the messages'],
	['Esc', 'back to the message box'],
];

/** Command names and aliases starting with `prefix` (with its `/`), for Tab. */
export function completeCommand(prefix) {
	const p = prefix.slice(1).toLowerCase();
	return COMMANDS.flatMap(([n, a]) => [n, ...a])
		.filter((n) => n.startsWith(p))
		.map((n) => '/' + n);
}

/** A room name as the server will take it, or an error message. */
export function checkRoom(s) {
	const r = s.trim().replace(/^#/, '').toLowerCase();
	if (!r) return { error: 'usage: /join ROOM' };
	if ([...r].length > 32) return { error: 'a room name has at most 32 characters' };
	if (!/^[\p{L}\p{N}_.-]+$/u.test(r)) return { error: 'a room name has only letters, digits, -, _ and .' };
	return { room: r };
}

/** A name as the server will take it (spaces collapsed), or an error message. */
export function checkName(s) {
	const name = s.trim().replace(/\s+/g, ' ');
	if (!name) return { error: 'a name cannot be empty' };
	if (cleanLine(name) !== name || /[\u200b-\u200d\u2060\ufeff]/.test(name)) {
		return { error: 'a name cannot contain control or invisible characters' };
	}
	const seg = typeof Intl.Segmenter === 'function' ? [...new Intl.Segmenter().segment(name)] : [...name];
	if (seg.length > 24) return { error: 'a name has at most 24 characters' };
	return { name };
}

/** Parses a submitted line; `users` (the room's names) lets `/msg` find names with spaces.
 * Returns null for a blank line, `{chat}`, `{cmd, …}` or `{error}`. */
export function parse(line, users = []) {
	if (!line.trim()) return null;
	if (!line.startsWith('/')) return { chat: line };
	if (line.startsWith('//')) return { chat: line.slice(1) };
	const m = /^\/(\S*)\s*([\s\S]*)$/.exec(line);
	const name = m[1].toLowerCase();
	const args = m[2].trim();
	const row = COMMANDS.find(([n, a]) => n === name || a.includes(name)) ?? (name === '?' ? COMMANDS[0] : null);
	if (!row) return { error: `unknown command /${cleanLine(m[1]).slice(0, 32)} — type /help for the list` };
	const cmd = row[0];
	const usage = { error: 'usage: ' + row[2] };
	switch (cmd) {
		case 'nick': {
			if (!args) return usage;
			const r = checkName(args);
			return r.error ? r : { cmd, name: r.name };
		}
		case 'color': {
			if (!args) return { cmd, color: null };
			const color = parseColor(args);
			return color ? { cmd, color } : { error: `invalid colour ${JSON.stringify(args.slice(0, 32))}: use 1-6 or #rrggbb` };
		}
		case 'join': {
			if (!args) return usage;
			const r = checkRoom(args);
			return r.error ? r : { cmd, room: r.room };
		}
		case 'msg': {
			const split = splitAddressee(args, users);
			return split && split.text ? { cmd, to: split.to, text: split.text } : usage;
		}
		case 'me':
			return args ? { cmd, text: args } : usage;
		case 'open': {
			if (!args) return { cmd, n: 1 };
			const n = Number(args);
			return Number.isInteger(n) && n >= 1 ? { cmd, n } : { error: 'usage: /open [N] (N = 1 for the latest link)' };
		}
		default:
			return { cmd };
	}
}

/** `/msg` arguments: a quoted name, else the longest online name they start with (names may
 * hold spaces), else the first word. */
function splitAddressee(args, users) {
	const q = /^"([^"]+)"\s+([\s\S]*)$/.exec(args);
	if (q) return { to: q[1], text: q[2].trim() };
	const lower = nameKey(args);
	const online = users
		.filter((u) => lower.startsWith(nameKey(u) + ' '))
		.sort((a, b) => b.length - a.length)[0];
	if (online) return { to: online, text: args.slice(online.length).trim() };
	const w = /^(\S+)\s+([\s\S]*)$/.exec(args);
	return w ? { to: w[1], text: w[2].trim() } : null;
}
