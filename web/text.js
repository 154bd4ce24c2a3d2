// Remote text made safe to show and compare: control and bidi characters, links (http and
// https only), colours readable on both themes, names compared loosely, dates. Pure
// functions: no DOM, no state.

const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;

const picture = (c) => {
	const n = c.charCodeAt(0);
	return n < 0x20 ? String.fromCharCode(0x2400 + n) : n === 0x7f ? '\u2421' : '\ufffd';
};

/** Message text as the server stores it: line breaks kept, tabs as four spaces, other
 * controls as visible pictures, bidi controls gone. */
export function clean(s) {
	return String(s)
		.replace(/\r\n?/g, '\n')
		.replace(/\t/g, '    ')
		.replace(BIDI, '')
		.replace(CONTROL, picture);
}

/** A one-line string (a name, a room): like {@link clean}, and line breaks become spaces. */
export const cleanLine = (s) => clean(s).replace(/\n/g, ' ');

/** Characters as the server counts them (code points, not UTF-16 units). */
export function chars(s) {
	let n = 0;
	for (const _ of s) n++;
	return n;
}

/** Names compare without case or compatibility forms (the server also folds look-alikes). */
export const nameKey = (s) => String(s).normalize('NFKC').toLowerCase().trim();

const LINK = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?'"*_~]+$/;

/** Splits text into plain parts and links: `[{text}, {text, href}, …]`. Only http and https
 * URLs become links; anything else (`javascript:`, `data:`) stays text. */
export function linkify(text) {
	const parts = [];
	let last = 0;
	for (const m of text.matchAll(LINK)) {
		let url = m[0].replace(TRAILING, '');
		// A closing bracket belongs to the link only if the link opened one.
		while (/[)\]]$/.test(url) && count(url, url.endsWith(')') ? '(' : '[') < count(url, url.slice(-1))) {
			url = url.slice(0, -1).replace(TRAILING, '');
		}
		const href = safeHref(url);
		if (!href) continue;
		if (m.index > last) parts.push({ text: text.slice(last, m.index) });
		parts.push({ text: url, href });
		last = m.index + url.length;
	}
	if (last < text.length) parts.push({ text: text.slice(last) });
	return parts;
}

const count = (s, c) => s.split(c).length - 1;

/** The URL to open for `s`, or null unless it parses as http or https. */
export function safeHref(s) {
	try {
		const u = new URL(s);
		return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
	} catch {
		return null;
	}
}

/** Whether `text` names `name` as a whole word, with or without `@`. */
export function mentions(text, name) {
	if (!name) return false;
	const t = text.toLowerCase();
	const n = name.toLowerCase();
	const word = (c) => c !== undefined && /[\p{L}\p{N}_]/u.test(c);
	for (let i = t.indexOf(n); i >= 0; i = t.indexOf(n, i + 1)) {
		if (!word(t[i - 1]) && !word(t[i + n.length])) return true;
	}
	return false;
}

export const NAMED = ['Cyan', 'Green', 'Magenta', 'Yellow', 'Blue', 'White'];

/** A wire colour (`1`-`6`, `#rrggbb`, a colour name) in the server's form, or null. */
export function parseColor(s) {
	const t = String(s).trim();
	if (/^#[0-9a-f]{6}$/i.test(t)) return t.toLowerCase();
	if (/^[1-6]$/.test(t)) return t;
	const i = NAMED.findIndex((n) => n.toLowerCase() === t.toLowerCase());
	return i >= 0 ? String(i + 1) : null;
}

export const colorLabel = (c) => (/^[1-6]$/.test(c) ? `${NAMED[c - 1]} (${c})` : c);

const BG = { light: [255, 255, 255], dark: [22, 24, 28] };

/** How to draw a wire colour: a class for the six named ones (themed in CSS), or `#rrggbb`
 * moved towards black on the light theme and towards white on the dark one until it reads
 * well (contrast 4.5:1), keeping its hue. */
export function colorStyle(c) {
	const wire = parseColor(c ?? '') ?? '6';
	if (!wire.startsWith('#')) return { cls: 'c' + wire };
	const rgb = [1, 3, 5].map((i) => parseInt(wire.slice(i, i + 2), 16));
	return { cls: 'cx', light: readable(rgb, BG.light, [0, 0, 0]), dark: readable(rgb, BG.dark, [255, 255, 255]) };
}

function readable(rgb, bg, towards) {
	let c = rgb;
	for (let k = 0; k <= 10 && contrast(c, bg) < 4.5; k++) {
		c = rgb.map((v, i) => Math.round(v + (towards[i] - v) * (k / 10)));
	}
	return '#' + c.map((v) => v.toString(16).padStart(2, '0')).join('');
}

function luminance(rgb) {
	const [r, g, b] = rgb.map((v) => {
		const s = v / 255;
		return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
	});
	return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a, b) {
	const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
	return (x + 0.05) / (y + 0.05);
}

const pad = (n) => String(n).padStart(2, '0');
export const timeOf = (ts) => {
	const d = new Date(ts);
	return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
};
export const dayOf = (ts) => new Date(ts).toDateString();
export const dayLabel = (ts) =>
	new Date(ts).toLocaleDateString(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
