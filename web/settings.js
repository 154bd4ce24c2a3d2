// What this browser remembers between visits, in localStorage: name, colour, room, and the
// name's claim token once the server hands one out. The only module that touches storage;
// a browser that refuses storage (private mode) simply forgets.

const PREFIX = 'clicom.';

function get(key) {
  try {
    return localStorage.getItem(PREFIX + key);
  } catch {
    return null;
  }
}

function put(key, value) {
  try {
    if (value == null || value === '') localStorage.removeItem(PREFIX + key);
    else localStorage.setItem(PREFIX + key, value);
  } catch {
    // Storage full or refused: nothing to keep it in.
  }
}

export const settings = {
  get name() {
    return get('name') ?? '';
  },
  set name(v) {
    put('name', v);
  },
  get color() {
    return get('color') ?? '';
  },
  set color(v) {
    put('color', v);
  },
  get room() {
    return get('room') ?? '';
  },
  set room(v) {
    put('room', v);
  },
  // The secret that proves the name is yours (names that stay yours are a later server
  // feature). Kept only here, sent only in `join`, never shown.
  get token() {
    return get('token') ?? '';
  },
  set token(v) {
    put('token', v);
  },
};
