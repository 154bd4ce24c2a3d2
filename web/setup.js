// The name and colour dialog: the first visit's welcome, and later the header's Name button.
// It shows a live preview and checks the name as the server will; what to do with the choice
// is the page's (join, or send nick and color).

import { checkName } from './command.js';
import { NAMED } from './text.js';
import { nameEl, paint } from './view.js';

const $ = (id) => document.getElementById(id);
const dialog = $('setup');
const form = $('setup-form');
const name = $('setup-name');
const custom = $('setup-custom');

const chosen = () => (form.elements.color.value === 'custom' ? custom.value.toLowerCase() : form.elements.color.value);
const preview = () => $('setup-preview').replaceChildren(nameEl(name.value.trim() || 'you', chosen()), ': hello!');

NAMED.forEach((n, i) => {
	paint($(`swatch-${i + 1}`), String(i + 1));
	$(`swatch-${i + 1}`).title = n;
});

form.addEventListener('input', (e) => {
	if (e.target === custom) form.elements.color.value = 'custom';
	preview();
});

/** Opens the dialog on `now` (`{name, color}`), with `problem` shown (a refused name);
 * `title` heads it. Calls `done(name, color)` with a checked choice. Esc closes it only when
 * `cancellable` (the first time there is no name to go back to). */
export function openSetup({ now, problem = '', title, cancellable, done }) {
	name.value = now.name ?? '';
	const c = now.color ?? '';
	const pick = /^[1-6]$/.test(c) ? c : c ? 'custom' : String(1 + Math.floor(Math.random() * 6));
	if (pick === 'custom') custom.value = c;
	form.elements.color.value = pick;
	$('setup-error').textContent = problem;
	$('setup-title').textContent = title;
	form.onsubmit = (e) => {
		e.preventDefault();
		const r = checkName(name.value);
		if (r.error) {
			$('setup-error').textContent = r.error[0].toUpperCase() + r.error.slice(1) + '.';
			return name.focus();
		}
		dialog.close();
		done(r.name, chosen());
	};
	dialog.oncancel = (e) => cancellable || e.preventDefault();
	preview();
	if (!dialog.open) dialog.showModal();
	name.focus();
	name.select();
}
