// Drawing: message lines, day separators and the user list, built with createElement and
// textContent only — no remote string is ever parsed as markup, and only http(s) links become
// anchors. The Log keeps room messages in id order (history pages in above, missed messages
// fill in), keeps the view pinned to the bottom while you are there, and holds your place
// when older messages load above.

import { clean, cleanLine, colorStyle, dayLabel, dayOf, linkify, timeOf } from './text.js';

export function el(tag, cls, text) {
	const e = document.createElement(tag);
	if (cls) e.className = cls;
	if (text != null) e.textContent = text;
	return e;
}

/** A name in its colour, isolated so right-to-left names cannot reorder the line. */
export function nameEl(name, color) {
	const e = el('bdi', 'n', cleanLine(name));
	paint(e, color);
	return e;
}

export function paint(e, color) {
	const s = colorStyle(color);
	e.classList.add(s.cls);
	if (s.light) {
		e.style.setProperty('--cl', s.light);
		e.style.setProperty('--cd', s.dark);
	}
}

/** Text with its http(s) links as anchors that open in a new tab and learn nothing of us. */
export function richText(text) {
	const span = el('span', 't');
	for (const part of linkify(clean(text))) {
		if (!part.href) {
			span.append(part.text);
			continue;
		}
		const a = el('a', null, part.text);
		a.href = part.href;
		a.target = '_blank';
		a.rel = 'noopener noreferrer';
		span.append(a);
	}
	return span;
}

function stamp(ts) {
	const ok = Number.isFinite(ts) && Math.abs(ts) < 8.64e15;
	const t = el('time', null, ok ? timeOf(ts) : '');
	if (ok) {
		t.dateTime = new Date(ts).toISOString();
		t.title = new Date(ts).toLocaleString();
	}
	return t;
}

/** A list item that knows its time (for day separators); `ts` may be missing (old servers). */
function line(cls, ts) {
	const li = el('li', cls);
	li.dataset.ts = Number.isFinite(ts) && Math.abs(ts) < 8.64e15 ? ts : Date.now();
	return li;
}

/** A line for a room message (`message` or a history entry). */
export function messageLine(m, mine, mentioned) {
	const li = line('msg', m.ts);
	li.append(stamp(m.ts), ' ');
	if (m.action) {
		li.classList.add('act');
		li.append('* ', nameEl(m.name, m.color), ' ', richText(m.text));
	} else {
		li.append(nameEl(m.name, m.color), ': ', richText(m.text));
	}
	if (mine) li.classList.add('mine');
	if (mentioned) li.classList.add('mention');
	return li;
}

/** A private message, to you or from you. */
export function dmLine(m, fromMe) {
	const li = line('msg dm', m.ts);
	li.append(stamp(m.ts), ' ', el('span', 'tag', 'DM'), ' ');
	if (fromMe) li.append('you → ', nameEl(m.to, null), ': ');
	else li.append(nameEl(m.from, m.color), ' → you: ');
	li.append(richText(m.text));
	return li;
}

/** A line from the server or from this page (`sys`, `info`, `err`). */
export function noteLine(kind, text, ts = Date.now()) {
	const li = line(kind, ts);
	li.append(stamp(ts), ' ', richText(text));
	return li;
}

export class Log {
	constructor(list) {
		this.list = list;
		this.ids = new Set(); // the room messages shown, by id
	}

	clear() {
		this.list.replaceChildren();
		this.ids.clear();
	}

	has(id) {
		return this.ids.has(id);
	}

	oldestId() {
		return this.ids.size ? Math.min(...this.ids) : null;
	}

	newestId() {
		return this.ids.size ? Math.max(...this.ids) : null;
	}

	atBottom() {
		const l = this.list;
		return l.scrollHeight - l.scrollTop - l.clientHeight < 40;
	}

	scrollToBottom() {
		this.list.scrollTop = this.list.scrollHeight;
	}

	/** Adds a line; a room message (`id`) goes in id order, anything else at the end. */
	add(li, id) {
		const pinned = this.atBottom();
		const later = id == null ? null : [...this.list.querySelectorAll('[data-id]')].find((e) => +e.dataset.id > id);
		if (id != null) {
			this.ids.add(id);
			li.dataset.id = id;
		}
		if (later) this.placeAbove([li], later);
		else this.list.append(li);
		this.separate();
		if (pinned) this.scrollToBottom();
	}

	/** Inserts lines above `anchor` (a line, not a separator), keeping what is on screen in
	 * place. */
	placeAbove(lines, anchor) {
		const top = anchor.getBoundingClientRect().top;
		const prev = anchor.previousElementSibling;
		for (const li of lines) this.list.insertBefore(li, prev?.classList.contains('day') ? prev : anchor);
		this.separate();
		this.list.scrollTop += anchor.getBoundingClientRect().top - top;
	}

	/** A page of older room messages (`[line, id]`, oldest first), above everything. */
	prepend(lines) {
		for (const [li, id] of lines) {
			this.ids.add(id);
			li.dataset.id = id;
		}
		const first = this.list.querySelector('li:not(.day)');
		if (first) this.placeAbove(lines.map(([li]) => li), first);
		else this.list.append(...lines.map(([li]) => li));
		this.separate();
	}

	/** Keeps at most `max` lines, dropping the oldest while the view is at the bottom; says
	 * whether any went. */
	trim(max) {
		let gone = false;
		while (this.list.children.length > max && this.atBottom()) {
			const li = this.list.firstElementChild;
			this.ids.delete(+li.dataset.id);
			li.remove();
			gone = true;
		}
		if (gone) this.separate();
		return gone;
	}

	/** Puts a day separator before the first line of each day, and nowhere else. */
	separate() {
		let day = null;
		for (let e = this.list.firstElementChild; e; ) {
			const next = e.nextElementSibling;
			if (e.classList.contains('day')) {
				const nd = next && !next.classList.contains('day') ? dayOf(+next.dataset.ts) : null;
				if (!nd || nd === day || nd !== e.dataset.day) e.remove();
			} else {
				const d = dayOf(+e.dataset.ts);
				if (d !== day && e.previousElementSibling?.dataset.day !== d) {
					const sep = el('li', 'day');
					sep.setAttribute('role', 'separator');
					sep.dataset.day = d;
					sep.append(el('span', null, dayLabel(+e.dataset.ts)));
					this.list.insertBefore(sep, e);
				}
				day = d;
			}
			e = next;
		}
	}
}

/** The user list: each name a button that starts `/msg NAME `. */
export function renderUsers(ul, users, me, colorOf, onPick) {
	ul.replaceChildren(
		...users.map((u) => {
			const li = el('li');
			const b = el('button', 'user');
			b.type = 'button';
			b.append(nameEl(u, colorOf(u)));
			if (u === me) b.append(el('span', 'you', ' (you)'));
			b.title = `Send ${cleanLine(u)} a private message`;
			b.addEventListener('click', () => onPick(u));
			li.append(b);
			return li;
		}),
	);
}
