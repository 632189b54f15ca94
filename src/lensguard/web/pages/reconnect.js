// Reconnection of the Live view. After the device drops (it leaves, its video fails, a
// subscription is answered "offline") or the network does (the signaling socket closes
// without a final code), the view shows an OFFLINE overlay with how long it has been
// down and tries again by itself: at once-ish, then with a growing pause up to
// MAX_PAUSE_MS. The retry is the caller's (`retry(kind)`: subscribe again on the open
// socket, or open a new one); `up()` once the picture is back hides the overlay.

import { $ } from "../core.js";

const PAUSES_MS = [1000, 2000, 4000, 8000];
const MAX_PAUSE_MS = 10000;

function seconds(ms) {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

export function createReconnect(retry) {
  const state = { since: null, attempts: 0, timer: null, ticker: null, kind: null };

  function render() {
    if (state.since === null) return;
    const what = state.kind === "network" ? "Connection lost" : "Device offline";
    $("offline-for").textContent = `${what} for ${seconds(Date.now() - state.since)}; reconnecting…`;
  }

  // The view is down: show it, and try again after the next pause.
  function down(kind) {
    if (state.since === null) {
      state.since = Date.now();
      state.attempts = 0;
      state.ticker = setInterval(render, 1000);
    }
    state.kind = kind;
    $("offline").hidden = false;
    render();
    clearTimeout(state.timer);
    const pause = PAUSES_MS[state.attempts] ?? MAX_PAUSE_MS;
    state.attempts += 1;
    state.timer = setTimeout(() => {
      state.timer = null;
      retry(state.kind);
    }, pause);
  }

  // The picture is back (or the user left the device): stop trying, hide the overlay.
  function up() {
    clearTimeout(state.timer);
    clearInterval(state.ticker);
    Object.assign(state, { since: null, attempts: 0, timer: null, ticker: null, kind: null });
    $("offline").hidden = true;
    $("offline-for").textContent = "";
  }

  return { down, up, active: () => state.since !== null };
}
