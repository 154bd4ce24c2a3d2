// The WebSocket to the server this page came from, and getting it back: after a drop it waits
// a random time up to 0.5 s, 1 s, 2 s … 30 s (exponential backoff with full jitter, starting
// over after a connection that lasted a minute), and it asks a silent server whether it is
// still there. It owns the socket and the timers; the page owns everything shown.

const BASE_MS = 500;
const CAP_MS = 30_000;
const STABLE_MS = 60_000;
const SILENCE_MS = 30_000;
const ANSWER_MS = 15_000;

/** The longest wait before attempt `n` (0-based): 0.5 s doubling up to 30 s. */
export const backoffCap = (n) => Math.min(CAP_MS, BASE_MS * 2 ** Math.min(n, 16));

export class Conn {
	/** `on`: `{open(), frame(obj), down(reason), state()}`; `random` is injectable for tests. */
	constructor(url, on, random = Math.random) {
		this.url = url;
		this.on = on;
		this.random = random;
		this.ws = null;
		this.attempt = 0;
		/** 'connecting' | 'open' | 'waiting' | 'stopped' */
		this.state = 'stopped';
		this.retryAt = 0;
		this.timer = null;
		this.openedAt = 0;
		this.heard = 0;
		this.probing = false;
	}

	start() {
		clearTimeout(this.timer);
		this.state = 'connecting';
		this.on.state();
		let ws;
		try {
			ws = new WebSocket(this.url);
		} catch (e) {
			this.lost(String(e.message || e));
			return;
		}
		this.ws = ws;
		ws.onopen = () => {
			this.state = 'open';
			this.openedAt = this.heard = Date.now();
			this.probing = false;
			this.timer = setInterval(() => this.watch(), 5000);
			this.on.open();
			this.on.state();
		};
		ws.onmessage = (e) => {
			this.heard = Date.now();
			if (typeof e.data !== 'string') return;
			let obj;
			try {
				obj = JSON.parse(e.data);
			} catch {
				return;
			}
			if (!obj || typeof obj.type !== 'string') return;
			if (this.probing && obj.type === 'who') {
				this.probing = false;
				return;
			}
			this.probing = false;
			this.on.frame(obj);
		};
		ws.onclose = (e) => this.lost(closeReason(e));
	}

	/** Sends a frame if the socket is open; false otherwise. */
	send(obj) {
		if (this.state !== 'open') return false;
		this.ws.send(JSON.stringify(obj));
		return true;
	}

	/** A silent server is asked (`who`); no answer in time counts as a dead connection. */
	watch() {
		const quiet = Date.now() - this.heard;
		if (this.probing && quiet > SILENCE_MS + ANSWER_MS) {
			this.drop('the server stopped answering');
		} else if (!this.probing && quiet > SILENCE_MS) {
			this.probing = this.send({ type: 'who' });
		}
	}

	drop(reason) {
		const ws = this.ws;
		if (ws) {
			ws.onclose = ws.onmessage = ws.onopen = null;
			try {
				ws.close();
			} catch {
				// Already closed.
			}
		}
		this.lost(reason);
	}

	lost(reason) {
		clearInterval(this.timer);
		clearTimeout(this.timer);
		this.ws = null;
		if (this.state === 'stopped') return;
		const was = this.state;
		if (was === 'open' && Date.now() - this.openedAt >= STABLE_MS) this.attempt = 0;
		const wait = this.random() * backoffCap(this.attempt);
		this.attempt++;
		this.state = 'waiting';
		this.retryAt = Date.now() + wait;
		this.timer = setTimeout(() => this.start(), wait);
		this.on.down(reason, was === 'open');
		this.on.state();
	}

	/** Skips the wait (or replaces a live connection with a new one). */
	retryNow() {
		if (this.state === 'connecting') return;
		if (this.state === 'open') this.drop('reconnecting');
		this.start();
	}

	/** Closes for good (until `start` or `retryNow`). */
	stop() {
		this.state = 'stopped';
		this.drop('');
		this.on.state();
	}
}

function closeReason(e) {
	if (e.code === 1000 || e.code === 1005) return 'the connection was closed';
	if (e.code === 1006) return 'the connection was lost';
	const why = e.reason ? `: ${String(e.reason).slice(0, 120)}` : '';
	return `closed by the server (${e.code}${why})`;
}
