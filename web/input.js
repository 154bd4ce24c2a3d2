// The input bar's memory: lines sent earlier (↑/↓, keeping the draft being typed) and Tab
// completion of names and commands (press again to cycle). Pure: works on a value and a caret
// position and returns new ones; the page applies them to the textarea.

import { completeCommand } from './command.js';

const MAX_HISTORY = 200;

export class InputHistory {
	constructor() {
		this.lines = [];
		this.pos = 0; // lines.length = the draft
		this.draft = '';
	}

	push(line) {
		if (line && this.lines[this.lines.length - 1] !== line) this.lines.push(line);
		if (this.lines.length > MAX_HISTORY) this.lines.shift();
		this.pos = this.lines.length;
		this.draft = '';
	}

	/** The older line (`dir` -1) or newer (+1) than the one shown, or null at either end. */
	move(dir, current) {
		const to = this.pos + dir;
		if (to < 0 || to > this.lines.length) return null;
		if (this.pos === this.lines.length) this.draft = current;
		this.pos = to;
		return to === this.lines.length ? this.draft : this.lines[to];
	}
}

export class Completer {
	constructor() {
		this.state = null;
	}

	/** Completes the word before `caret`: names from `names`, commands at the start of the
	 * line. Pressed again right after, cycles (backwards with `back`). Returns `{value, caret}`
	 * or null when there is nothing to complete (so Tab can move focus). */
	complete(value, caret, names, back = false) {
		let s = this.state;
		if (!s || s.after !== value || s.caret !== caret) {
			const start = value.slice(0, caret).search(/\S*$/);
			const word = value.slice(start, caret);
			if (!word) return (this.state = null);
			const command = start === 0 && word.startsWith('/');
			const prefix = word.replace(/^@/, '').toLowerCase();
			const list = command
				? completeCommand(word)
				: names.filter((n) => n.toLowerCase().startsWith(prefix));
			if (!list.length) return (this.state = null);
			s = { start, end: caret, list, i: back ? list.length - 1 : 0, suffix: command ? ' ' : start === 0 ? ': ' : ' ' };
			s.tail = value.slice(caret);
			s.head = value.slice(0, start);
			// Before a space already there: no second one, and the caret goes past it.
			s.skip = /^\s/.test(s.tail) ? 1 : 0;
			if (s.skip) s.suffix = s.suffix.trimEnd();
		} else {
			const n = s.list.length;
			s.i = (s.i + (back ? n - 1 : 1)) % n;
		}
		const inserted = s.list[s.i] + s.suffix;
		s.after = s.head + inserted + s.tail;
		s.caret = s.head.length + inserted.length + s.skip;
		this.state = s;
		return { value: s.after, caret: s.caret };
	}

	reset() {
		this.state = null;
	}
}
