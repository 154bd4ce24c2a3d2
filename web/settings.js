// What this browser remembers between visits, in localStorage: name, colour, room, and the
// name's claim token once servers hand one out (names that stay yours: sent only in `join`,
// never shown). The only module that touches storage; a browser that refuses storage (private
// mode) simply forgets.

const get = (key) => {
	try {
		return localStorage.getItem('clicom.' + key) ?? '';
	} catch {
		return '';
	}
};

const put = (key, value) => {
	try {
		if (value) localStorage.setItem('clicom.' + key, value);
		else localStorage.removeItem('clicom.' + key);
	} catch {
		// Full or refused: nothing to keep it in.
	}
};

/** `settings.name`, `.color`, `.room`, `.token`: read and written through to storage. */
export const settings = {};
for (const key of ['name', 'color', 'room', 'token']) {
	Object.defineProperty(settings, key, { get: () => get(key), set: (v) => put(key, v) });
}
