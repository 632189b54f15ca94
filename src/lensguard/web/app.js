// lensguard viewer console. Loaded as a module file: the CSP forbids inline script.
//
// Security choices (docs/console.md): the access token lives in this module's memory
// only (never localStorage, cookies or URLs); the signaling socket receives it in its
// first message; everything shown from the server goes through textContent.

import { createRecordings } from "./recordings.js";
import { exchange, showProviders, takeLoginCode } from "./sso.js";
import { createAccessLog } from "./watched.js";

// How to watch: "direct" (peer to peer with the device) until the relay media node
// lands; then this one line becomes "relay".
// "relay": the server's media node forwards the device's video (and can redact it);
// "direct": peer to peer with the device. Control goes over a data channel to the
// relay (checked there like signaling messages), over the signaling socket otherwise.
const MODE = "relay";
const API = "/api/v1";
const REPEAT_MS = 200; // the robot's dead-man timer stops it unless commands keep coming
const GATHER_TIMEOUT_MS = 10000;

const $ = (id) => document.getElementById(id);

const session = {
  token: null, // access token: memory only
  refreshToken: null,
  refreshTimer: null,
  username: "",
  permissions: [],
  sso: false, // signed in through a provider: sign out there too
  ssoCode: null, // a login code waiting for the one-time code (MFA), memory only
  // Bumped when a session ends: answers to requests made before then are dropped, so a
  // late 401 for a signed-out session cannot replace "You are signed out."
  epoch: 0,
};

const view = {
  device: null,
  ws: null,
  pc: null,
  channel: null,
  peer: null,
  closing: false,
  unredacted: false, // break-glass: ask for the raw picture (needs an open grant)
  grant: null,
};

let seq = 0; // increases for every control command this page sends
const hold = { timer: null, button: null, refused: false, sent: false };

// ---------------------------------------------------------------- notices

function notify(text, kind = "error") {
  const box = $("notice");
  box.textContent = text;
  box.className = `notice ${kind}`;
  box.hidden = !text;
}

function clearNotice() {
  notify("", "info");
}

function setStatus(text) {
  $("viewer-status").textContent = text;
}

const SECTIONS = ["console-view", "recordings-view", "access-view"];

function show(which) {
  for (const id of ["login-view", "password-view", ...SECTIONS]) {
    $(id).hidden = id !== which;
  }
  $("who").hidden = which === "login-view";
  $("tabs").hidden = !SECTIONS.includes(which);
  for (const tab of document.querySelectorAll(".tab")) {
    tab.setAttribute("aria-pressed", String(tab.dataset.view === which));
  }
}

// The sections beside Live, each shown to the users whose permissions it needs.
let sections = null;

function openSection(which) {
  const current = SECTIONS.find((id) => !$(id).hidden);
  if (current === which) return;
  if (current === "console-view") stopWatching();
  else if (current) sections[current].leave();
  clearNotice();
  show(which);
  if (which !== "console-view") sections[which].enter();
}

// ---------------------------------------------------------------- HTTP

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.slug = (problem.type || "").replace("urn:lensguard:problem:", "");
    this.retryAfter = problem.retry_after;
  }
}

async function request(method, url, body) {
  const headers = { Accept: "application/json" };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
}

async function api(method, path, body) {
  const response = await request(method, API + path, body);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Every item of a list route: its pages are linked by Link: <...>; rel="next".
const NEXT_PAGE = /^<(\/[^>]*)>;\s*rel="next"$/;

async function apiList(path) {
  const items = [];
  let url = `${API}${path}?limit=200`;
  while (url) {
    const response = await request("GET", url);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, data);
    items.push(...data);
    const next = NEXT_PAGE.exec(response.headers.get("Link") || "");
    url = next ? next[1] : null;
  }
  return items;
}

// One page of a list route: a JSON array (or {"items": [...]}) and the next page's path.
async function apiPage(url) {
  const response = await request("GET", url);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  const items = Array.isArray(data) ? data : data.items || [];
  const link = NEXT_PAGE.exec(response.headers.get("Link") || "");
  let next = link ? link[1] : null;
  if (!next && !Array.isArray(data) && data.next_cursor) {
    const following = new URL(url, location.origin);
    following.searchParams.set("cursor", data.next_cursor);
    next = following.pathname + following.search;
  }
  return { items, next };
}

async function apiAll(url) {
  const items = [];
  for (let next = url; next; ) {
    const page = await apiPage(next);
    items.push(...page.items);
    next = page.next;
  }
  return items;
}

function plainError(err) {
  if (!(err instanceof ApiError)) return "The server could not be reached. Check your connection.";
  switch (err.status) {
    case 401:
      return err.message.includes("code") ? err.message : "Your sign-in is not valid. Sign in again.";
    case 403:
      return "You are not allowed to do that.";
    case 404:
      return "That device no longer exists or is outside your access.";
    case 429:
      return `Too many attempts. Wait ${err.retryAfter || "a little"} seconds and try again.`;
    default:
      return err.message;
  }
}

// ---------------------------------------------------------------- sign-in

function keepTokens(tokens) {
  session.token = tokens.access_token;
  session.refreshToken = tokens.refresh_token;
  // The server closes a signaling socket whose token expires: hand it the fresh one.
  send({ type: "reauth", token: session.token });
  clearTimeout(session.refreshTimer);
  // Refresh a minute early; the refresh token is single-use and rotates.
  const delay = Math.max(30, tokens.expires_in - 60) * 1000;
  session.refreshTimer = setTimeout(refreshTokens, delay);
}

async function refreshTokens() {
  const epoch = session.epoch;
  try {
    const tokens = await api("POST", "/auth/refresh", { refresh_token: session.refreshToken });
    if (epoch === session.epoch) keepTokens(tokens);
  } catch (err) {
    if (epoch === session.epoch) signedOut("Your session has ended. Sign in again.");
  }
}

async function onLogin(event) {
  event.preventDefault();
  clearNotice();
  const username = $("login-username").value.trim();
  const password = $("login-password").value;
  const code = $("login-code").value.trim();
  const body = { username, password };
  if (code) body.code = code;
  $("login-submit").disabled = true;
  try {
    const tokens = await api("POST", "/auth/login", body);
    keepTokens(tokens);
    session.username = username;
    $("who-name").textContent = `Signed in as ${username}`;
    $("login-form").reset();
    $("login-code-row").hidden = true;
    if (tokens.restrictions.includes("password_change")) {
      show("password-view");
      $("password-username").value = username; // lets password managers file it correctly
      $("password-current").focus();
    } else if (tokens.restrictions.includes("mfa_enrolment")) {
      notify("Your role requires two-factor authentication. Enrol an authenticator app first.");
    } else {
      await enterConsole();
    }
  } catch (err) {
    if (err instanceof ApiError && err.slug === "mfa-required") {
      $("login-code-row").hidden = false;
      $("login-code").focus();
      notify("Enter the 6-digit code from your authenticator app.", "info");
    } else if (err instanceof ApiError && err.slug === "account-locked") {
      // Failures from elsewhere locked the account: password plus a one-time code still works.
      $("login-code-row").hidden = false;
      notify(`Too many failed sign-ins for this account. Wait ${err.retryAfter || "a little"} seconds, or sign in with your one-time code.`);
    } else if (err instanceof ApiError && err.status === 401) {
      notify(err.message.includes("code") ? err.message : "Wrong username or password.");
    } else {
      notify(plainError(err));
    }
  } finally {
    $("login-submit").disabled = false;
  }
}

// After a sign-in: the forced password change, MFA enrolment, or the console.
async function afterSignIn(tokens) {
  if (tokens.restrictions.includes("password_change")) {
    show("password-view");
    $("password-username").value = session.username; // lets password managers file it correctly
    $("password-current").focus();
  } else if (tokens.restrictions.includes("mfa_enrolment")) {
    notify("Your role requires two-factor authentication. Enrol an authenticator app first.");
  } else {
    await enterConsole();
  }
}

async function finishSso(loginCode, code) {
  try {
    const tokens = await exchange(ApiError, loginCode, code);
    session.ssoCode = null;
    session.sso = true;
    keepTokens(tokens);
    const me = await api("GET", "/users/me");
    session.username = me.username;
    $("who-name").textContent = `Signed in as ${me.username}`;
    $("sso-code-form").hidden = true;
    $("sso-code-form").reset();
    await afterSignIn(tokens);
  } catch (err) {
    if (err instanceof ApiError && err.slug === "mfa-required") {
      session.ssoCode = loginCode; // kept in memory only, until it expires
      $("sso-code-form").hidden = false;
      $("sso-code").focus();
      notify("Enter the 6-digit code from your authenticator app.", "info");
    } else if (err instanceof ApiError && err.status === 401) {
      notify(err.message.includes("code") && code ? err.message : "Single sign-on did not complete. Try again.");
    } else {
      notify(plainError(err));
    }
  }
}

async function onSsoCode(event) {
  event.preventDefault();
  clearNotice();
  if (session.ssoCode) await finishSso(session.ssoCode, $("sso-code").value.trim());
}

async function onPasswordChange(event) {
  event.preventDefault();
  clearNotice();
  const current = $("password-current").value;
  const fresh = $("password-new").value;
  if (fresh !== $("password-confirm").value) {
    notify("The two new passwords differ.");
    return;
  }
  try {
    // The console always revokes API keys on a password change (the API leaves it to the caller).
    const result = await api("POST", "/auth/password", { current_password: current, new_password: fresh, revoke_api_keys: true });
    $("password-form").reset();
    const keys = result.api_keys_revoked;
    notify(keys ? `Password changed; ${keys} API key${keys === 1 ? "" : "s"} revoked.` : "Password changed.", "info");
    await enterConsole();
  } catch (err) {
    notify(err instanceof ApiError && err.status === 422 ? `The new password was refused: ${err.message}` : plainError(err));
  }
}

async function onLogout() {
  session.epoch += 1; // what is in flight now belongs to the session being ended
  try {
    if (session.token && session.sso) {
      // Signed in through a provider: sign out there too, where it offers it.
      const { end_session_url: url } = await api("POST", "/auth/oidc/logout");
      session.token = null;
      if (url) {
        location.assign(url);
        return;
      }
    } else if (session.token) await api("POST", "/auth/logout");
  } catch (err) {
    // Signing out locally matters more than the server's answer.
  }
  signedOut("You are signed out.", "info");
}

function signedOut(message, kind = "error") {
  session.epoch += 1;
  stopWatching();
  clearTimeout(session.refreshTimer);
  session.token = null;
  session.refreshToken = null;
  session.sso = false;
  session.ssoCode = null;
  $("device-list").replaceChildren();
  for (const section of Object.values(sections)) section.reset();
  show("login-view");
  notify(message, kind);
}

// ---------------------------------------------------------------- devices

async function enterConsole() {
  const epoch = session.epoch;
  show("console-view");
  let permissions = [];
  try {
    permissions = (await api("GET", "/users/me")).permissions;
  } catch (err) {
    // Shown as nothing permitted; the device list says whether the session still holds.
  }
  if (epoch !== session.epoch) return;
  session.permissions = permissions;
  $("tab-recordings").hidden = !permissions.includes("recording_view");
  $("tab-access").hidden = !permissions.includes("audit_read");
  await loadDevices();
}

async function loadDevices() {
  const epoch = session.epoch;
  let devices;
  try {
    devices = await apiList("/devices");
  } catch (err) {
    if (epoch !== session.epoch) return;
    if (err instanceof ApiError && err.status === 401) return signedOut("Your session has ended. Sign in again.");
    notify(plainError(err));
    return;
  }
  if (epoch !== session.epoch) return;
  const list = $("device-list");
  list.replaceChildren();
  $("devices-empty").hidden = devices.length > 0;
  for (const device of devices) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "device";
    button.dataset.deviceId = device.id;
    const head = document.createElement("span");
    head.className = "device-head";
    const name = document.createElement("span");
    name.className = "device-name";
    name.textContent = device.name;
    // Live presence from the server (any node), not a guess from last_seen_at.
    const badge = document.createElement("span");
    badge.className = device.online ? "presence online" : "presence offline";
    badge.textContent = device.online ? "Online" : "Offline";
    head.append(name, badge);
    const meta = document.createElement("span");
    meta.className = "device-meta";
    meta.textContent = `${device.kind} · ${device.site}`;
    button.append(head, meta);
    button.addEventListener("click", () => watch(device));
    item.append(button);
    list.append(item);
  }
}

// ---------------------------------------------------------------- watching

function send(message) {
  if (view.ws && view.ws.readyState === WebSocket.OPEN) view.ws.send(JSON.stringify(message));
}

function stopWatching() {
  endHold();
  view.closing = true;
  if (view.ws) view.ws.close(1000, "viewer left");
  if (view.pc) view.pc.close();
  view.ws = null;
  view.pc = null;
  view.channel = null;
  view.peer = null;
  view.device = null;
  view.unredacted = false;
  view.grant = null;
  $("video").srcObject = null;
  $("drive").hidden = true;
  $("breakglass").hidden = true;
  showGrant(null);
}

async function watch(device, unredacted = false) {
  stopWatching();
  clearNotice();
  view.closing = false;
  view.device = device;
  view.unredacted = unredacted;
  $("breakglass").hidden = !session.permissions.includes("redaction_override");
  for (const b of document.querySelectorAll(".device")) {
    b.setAttribute("aria-pressed", String(b.dataset.deviceId === device.id));
  }
  $("viewer-title").textContent = device.name;
  $("drive").hidden = !device.capabilities.includes("control");
  setStatus("Connecting…");
  let iceServers = [];
  try {
    iceServers = (await api("GET", "/turn-credentials")).ice_servers;
  } catch (err) {
    notify(`TURN credentials unavailable (${plainError(err)}); trying without a relay.`);
  }
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  // The token never goes in the URL: it is the socket's first message.
  const ws = new WebSocket(`${scheme}//${location.host}/v1/signal`);
  view.ws = ws;
  ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", token: session.token })));
  ws.addEventListener("message", (event) => {
    if (ws === view.ws) onSignal(JSON.parse(event.data), iceServers).catch(onCallError);
  });
  ws.addEventListener("close", (event) => {
    if (ws === view.ws) onSocketClosed(event);
  });
}

async function onSignal(message, iceServers) {
  switch (message.type) {
    case "ready":
      send({ type: "subscribe", device_id: view.device.id, mode: MODE, unredacted: view.unredacted });
      break;
    case "redaction":
      onRedaction(message);
      break;
    case "reauthed":
      break;
    case "subscribed":
      view.peer = message.peer;
      await startCall(iceServers);
      break;
    case "answer":
      if (message.from === view.peer && view.pc) {
        await view.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
        setStatus("Negotiating video…");
      }
      break;
    case "candidate":
      if (message.from === view.peer && view.pc && message.candidate) {
        await view.pc.addIceCandidate({
          candidate: message.candidate,
          sdpMid: message.sdp_mid ?? undefined,
          sdpMLineIndex: message.sdp_mline_index ?? undefined,
        });
      }
      break;
    case "leave":
      if (message.from === view.peer) {
        setStatus("The device went offline.");
        endHold();
      }
      break;
    case "error":
      onServerError(message);
      break;
    default:
      break;
  }
}

function onServerError(message) {
  const words = {
    forbidden: "You are not allowed to drive this device.",
    not_found: "That device no longer exists or is outside your access.",
    offline: "The device is not connected right now.",
    not_subscribed: "Open the device's video before driving it.",
    rate_limited: "Too many commands; slow down.",
    unsupported: "The server cannot stream this way yet.",
    redacted: "This stream is redacted; it can only be watched through the server's relay.",
    no_grant: "You have no open break-glass grant for this device. Request one first.",
  };
  if (message.code === "forbidden" || message.code === "not_subscribed") {
    hold.refused = true;
    endHold();
  }
  if (message.code === "offline" || message.code === "not_found") setStatus("Not streaming.");
  notify(words[message.code] || `The server refused: ${message.message}`);
}

// ---------------------------------------------------------------- break-glass

function showGrant(grant) {
  $("breakglass-form").hidden = Boolean(grant);
  $("breakglass-active").hidden = !grant;
  if (grant) {
    const until = new Date(grant.expires_at).toLocaleTimeString();
    $("breakglass-until").textContent = `Unredacted view until ${until}. Every minute is audited.`;
  }
}

async function onBreakGlass(event) {
  event.preventDefault();
  clearNotice();
  const device = view.device;
  if (!device) return;
  const body = { reason: $("breakglass-reason").value.trim(), minutes: Number($("breakglass-minutes").value) };
  try {
    const grant = await api("POST", `/streams/${encodeURIComponent(device.id)}/break-glass`, body);
    $("breakglass-form").reset();
    await watch(device, true);
    view.grant = grant;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 409 || err.status === 422)) notify(err.message);
    else notify(plainError(err));
  }
}

async function onEndBreakGlass() {
  if (!view.device || !view.grant) return;
  try {
    await api("DELETE", `/streams/${encodeURIComponent(view.device.id)}/break-glass/${encodeURIComponent(view.grant.id)}`);
  } catch (err) {
    notify(plainError(err));
  }
}

function onRedaction(message) {
  if (message.unredacted) {
    view.grant = { id: message.grant_id, expires_at: message.expires_at };
    showGrant(view.grant);
    notify("You are watching the unredacted picture. This viewing is audited.", "info");
    return;
  }
  view.grant = null;
  view.unredacted = false;
  showGrant(null);
  const why = { expired: "The grant expired", ended: "You ended the grant", access_changed: "Your access changed" };
  notify(`${why[message.reason] || "The grant ended"}: faces are redacted again.`, "info");
}

function onSocketClosed(event) {
  view.ws = null;
  endHold();
  if (view.closing) return;
  const words = {
    4401: "Your session has ended. Sign in again.",
    4403: "Your access to this device was withdrawn.",
    1008: `The server closed the connection (${event.reason || "policy violation"}).`,
    1011: "The server hit an error. Try again.",
    1013: "The server is busy. Try again in a moment.",
  };
  setStatus("Disconnected.");
  if (event.code === 4401) {
    signedOut(words[4401]);
    return;
  }
  notify(words[event.code] || `The connection closed (code ${event.code}).`);
}

function onCallError(err) {
  setStatus("Video failed.");
  notify(`Could not start the video: ${err && err.message ? err.message : err}`);
}

function gatheringComplete(pc) {
  // aiortc does no trickle ICE: the offer must carry every candidate.
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

async function startCall(iceServers) {
  const pc = new RTCPeerConnection({ iceServers });
  view.pc = pc;
  pc.addTransceiver("video", { direction: "recvonly" });
  view.channel = MODE === "relay" ? pc.createDataChannel("control") : null;
  pc.addEventListener("track", (event) => {
    const video = $("video");
    video.srcObject = event.streams[0] || new MediaStream([event.track]);
    video.play().catch(() => {});
  });
  pc.addEventListener("connectionstatechange", () => {
    if (pc !== view.pc) return;
    const state = pc.connectionState;
    if (state === "connected") {
      setStatus("Live");
    } else if (state === "failed") {
      setStatus("Video failed.");
      notify("The video connection failed: the network between you and the device (or the TURN relay) is blocked.");
    } else if (state === "disconnected") {
      setStatus("Connection interrupted…");
    }
  });
  await pc.setLocalDescription(await pc.createOffer());
  setStatus("Gathering network paths…");
  await gatheringComplete(pc);
  if (pc !== view.pc) return;
  send({ type: "offer", to: view.peer, sdp: pc.localDescription.sdp });
  setStatus("Waiting for the device…");
}

// ---------------------------------------------------------------- driving

function sendControl(message) {
  const channel = view.channel;
  if (channel && channel.readyState === "open") {
    channel.send(JSON.stringify(message));
  } else {
    send(message);
  }
}

function command(button) {
  const kind = button.dataset.command;
  const message = { type: "control", device_id: view.device.id, command: kind, seq: ++seq };
  if (kind === "move") {
    message.args = { linear: Number(button.dataset.linear), angular: Number(button.dataset.angular) };
  }
  return message;
}

function beginHold(button) {
  if (!view.device || !view.ws) {
    notify("Open a device's video before driving it.");
    return;
  }
  endHold();
  hold.button = button;
  hold.refused = false;
  hold.sent = true;
  button.classList.add("held");
  sendControl(command(button));
  if (button.dataset.command === "move") {
    hold.timer = setInterval(() => sendControl(command(button)), REPEAT_MS);
  }
}

function endHold() {
  if (!hold.button) return;
  clearInterval(hold.timer);
  hold.button.classList.remove("held");
  const wasMove = hold.button.dataset.command === "move";
  hold.timer = null;
  hold.button = null;
  // Stop explicitly on release rather than waiting for the dead-man timer.
  if (wasMove && hold.sent && !hold.refused && view.device) {
    sendControl({ type: "control", device_id: view.device.id, command: "stop", seq: ++seq });
  }
}

function wireDrivePad() {
  for (const button of document.querySelectorAll(".pad button")) {
    button.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      button.setPointerCapture?.(event.pointerId);
      beginHold(button);
    });
    for (const kind of ["pointerup", "pointercancel", "lostpointercapture"]) {
      button.addEventListener(kind, () => {
        if (hold.button === button) endHold();
      });
    }
    button.addEventListener("keydown", (event) => {
      if ((event.key === " " || event.key === "Enter") && !event.repeat) {
        event.preventDefault();
        beginHold(button);
      }
    });
    button.addEventListener("keyup", (event) => {
      if (event.key === " " || event.key === "Enter") endHold();
    });
    button.addEventListener("blur", () => {
      if (hold.button === button) endHold();
    });
  }
  // A hidden tab or lost focus must not leave a robot driving.
  window.addEventListener("blur", endHold);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) endHold();
  });
}

// ---------------------------------------------------------------- start

function start() {
  $("login-form").addEventListener("submit", onLogin);
  $("sso-code-form").addEventListener("submit", onSsoCode);
  $("password-form").addEventListener("submit", onPasswordChange);
  $("logout").addEventListener("click", onLogout);
  $("devices-refresh").addEventListener("click", loadDevices);
  $("breakglass-form").addEventListener("submit", onBreakGlass);
  $("breakglass-end").addEventListener("click", onEndBreakGlass);
  wireDrivePad();
  const context = {
    API,
    ApiError,
    session,
    api,
    page: apiPage,
    listAll: apiAll,
    notify,
    clearNotice,
    plainError,
    signedOut,
    failed: (err, notFound) => {
      if (err instanceof ApiError && err.status === 401) signedOut("Your session has ended. Sign in again.");
      else notify(err instanceof ApiError && err.status === 404 && notFound ? notFound : plainError(err));
    },
  };
  sections = { "recordings-view": createRecordings(context), "access-view": createAccessLog(context) };
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => openSection(tab.dataset.view));
  }
  show("login-view");
  $("login-username").focus();
  showProviders(api, $("sso-buttons")).catch(() => {}); // no buttons when it fails
  const loginCode = takeLoginCode();
  if (loginCode) finishSso(loginCode);
}

start();
