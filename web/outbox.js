// Your messages on their way out. Each stays here from the moment it is typed until the
// server confirms it, and carries a client-chosen id (`cid`) that the server echoes and
// stores: the echo, the answer to a resend, or a history entry after a reconnect confirms it
// by that id whatever the server did to the text, and a resend after a drop is recognised.
// Servers that know no `cid` ignore it; for them (only) an echo of yours confirms the oldest
// message in flight and a history entry the sent message with the same words. A message never
// sent cannot have arrived, so it is simply sent: nothing typed is lost and nothing is sent
// twice. Pure: no DOM, no socket.

import { clean, nameKey } from './text.js';

/** How far the server's clock may lag ours when matching a sent message found in history. */
const CLOCK_SLACK_MS = 120_000;

export function newCid() {
	const bytes = crypto.getRandomValues(new Uint8Array(12));
	return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const same = (a, b) => clean(a).trim() === clean(b).trim();

export class Outbox {
	constructor() {
		/** Oldest first: `{cid, kind: 'chat'|'me'|'dm', to, text, room, typed, sent, live}`.
		 * `sent` is when it last went out (0: never); `live` whether that was on this connection. */
		this.items = [];
		/** The server has echoed a `cid`: from then on nothing is confirmed by words. */
		this.cidServer = false;
	}

	push(kind, text, { to = null, room = null, now = Date.now(), cid = newCid() } = {}) {
		const item = { cid, kind, to, text, room, typed: now, sent: 0, live: false };
		this.items.push(item);
		return item;
	}

	get size() {
		return this.items.length;
	}

	/** The frame that sends `item`. */
	static frame(item) {
		if (item.kind === 'dm') return { type: 'dm', to: item.to, text: item.text, cid: item.cid };
		return { type: item.kind === 'me' ? 'me' : 'message', text: item.text, cid: item.cid };
	}

	/** What still has to go out on this connection, oldest first. */
	unsent() {
		return this.items.filter((i) => !i.live);
	}

	markSent(item, now = Date.now()) {
		item.sent = now;
		item.live = true;
	}

	/** The connection dropped: what was not confirmed goes out again on the next one. */
	connectionLost() {
		for (const i of this.items) i.live = false;
	}

	/** A live echo (`message` or `dm` from the server): removes and returns the item it
	 * confirms. `me` is your name (for servers that echo no `cid`). */
	confirmEcho(msg, me) {
		return this.take(msg, msg.type === 'dm' ? 'dm' : 'room', me, (i) => i.live);
	}

	/** A room's history after a (re)join: removes and returns the items it already holds. */
	confirmHistory(messages, me) {
		const found = [];
		for (const m of messages) {
			const kind = m.action ? 'me' : 'chat';
			const item = this.take(
				m,
				kind,
				me,
				(i) => i.kind === kind && same(i.text, m.text) && !(m.ts < i.sent - CLOCK_SLACK_MS),
			);
			if (item) found.push(item);
		}
		return found;
	}

	take(msg, kind, me, matches) {
		let k = -1;
		if (typeof msg.cid === 'string') {
			this.cidServer = true;
			k = this.items.findIndex((i) => i.cid === msg.cid);
		} else if (!this.cidServer && nameKey(msg.name ?? msg.from ?? '') === nameKey(me ?? '')) {
			const sameChannel = (i) => (kind === 'dm') === (i.kind === 'dm');
			k = this.items.findIndex((i) => i.sent > 0 && sameChannel(i) && matches(i));
		}
		return k < 0 ? null : this.items.splice(k, 1)[0];
	}

	/** The server refused a message: removes and returns it — the one named by `cid`, else the
	 * oldest sent on this connection (only DMs when `dmOnly`). */
	refuse(cid, dmOnly) {
		let k = typeof cid === 'string' ? this.items.findIndex((i) => i.cid === cid) : -1;
		if (k < 0) k = this.items.findIndex((i) => i.live && (!dmOnly || i.kind === 'dm'));
		return k < 0 ? null : this.items.splice(k, 1)[0];
	}

	/** Takes out what was written for a room other than `room` (DMs keep their addressee), so
	 * nothing reaches an audience it was not written for. */
	withdraw(room) {
		const gone = this.items.filter((i) => i.kind !== 'dm' && i.room !== room);
		this.items = this.items.filter((i) => !gone.includes(i));
		return gone;
	}
}

/** The input line that would send `item` again. */
export function inputLine(item) {
	if (item.kind === 'me') return '/me ' + item.text;
	if (item.kind === 'dm') return `/msg ${/\s/.test(item.to) ? `"${item.to}"` : item.to} ${item.text}`;
	return item.text.startsWith('/') ? '/' + item.text : item.text;
}
