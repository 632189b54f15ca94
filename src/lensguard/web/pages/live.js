// The Live page: the devices in your scope with live presence, one device's video
// over WebRTC, driving it (drive.js), its camera's pan/tilt/zoom (ptz.js), the detections overlay (overlay.js) and the break-glass panel (docs/console.md).

import { $, ApiError, api, apiList, clearNotice, iceGathered, notify, plainError, session } from "../core.js";
import { endHold, onHolder, refused, showDrive, wireDrive } from "./drive.js";
import { onDetections, resetOverlay, wireOverlay } from "./overlay.js";
import { onPose, ptzRefused, showPtz, wirePtz } from "./ptz.js";
import { createReconnect } from "./reconnect.js";
import { forgetThumbnails, refreshThumbnails, stopThumbnails, thumbnail } from "./thumbs.js";

// "relay": the server's media node forwards the device's video (and can redact it);
// "direct": peer to peer with the device. Control goes over a data channel to the
// relay (checked there like signaling messages), over the signaling socket otherwise.
const MODE = "relay";
// Closes that say "do not come back" (signed out, access withdrawn, a protocol violation,
// invalid message): anything else is retried (docs/signaling.md, close codes).
const FINAL_CLOSES = new Set([1000, 1003, 1008, 4401, 4403]);

const view = {
  device: null,
  ws: null,
  pc: null,
  channel: null,
  peer: null,
  me: null, // this socket's connection id (from "ready"): is the lock holder me?
  closing: false,
  unredacted: false, // break-glass: ask for the raw picture (needs an open grant)
  grant: null,
};

let signedOut = () => {};

function setStatus(text) {
  $("viewer-status").textContent = text;
}

// ---------------------------------------------------------------- devices

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
  forgetThumbnails();
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
    if (device.online) {
      const picture = document.createElement("img");
      picture.className = "thumb";
      picture.alt = `Latest picture of ${device.name}`;
      button.prepend(picture);
      thumbnail(picture, device.id);
    }
    button.addEventListener("click", () => watch(device));
    item.append(button);
    list.append(item);
  }
  refreshThumbnails();
}

// ---------------------------------------------------------------- watching

function send(message) {
  if (view.ws && view.ws.readyState === WebSocket.OPEN) view.ws.send(JSON.stringify(message));
}

// After a drop: subscribe again on the open socket, or open a new one (reconnect.js).
const reconnect = createReconnect((kind) => {
  if (!view.device) return;
  if (kind === "device" && view.ws && view.ws.readyState === WebSocket.OPEN) {
    closePeer();
    send({ type: "subscribe", device_id: view.device.id, mode: MODE, unredacted: view.unredacted });
  } else {
    watch(view.device, view.unredacted, { retrying: true });
  }
});

function closePeer() {
  if (view.pc) view.pc.close();
  view.pc = null;
  view.channel = null;
  view.peer = null;
}

function stopWatching() {
  endHold();
  reconnect.up();
  view.closing = true;
  if (view.ws) view.ws.close(1000, "viewer left");
  if (view.pc) view.pc.close();
  view.ws = null;
  view.pc = null;
  view.channel = null;
  view.peer = null;
  view.me = null;
  view.device = null;
  view.unredacted = false;
  view.grant = null;
  $("video").srcObject = null;
  showDrive(null);
  showPtz(null);
  resetOverlay();
  $("breakglass").hidden = true;
  showGrant(null);
}

async function watch(device, unredacted = false, { retrying = false } = {}) {
  if (retrying) {
    // Keep the device, the overlay and its clock; replace only the connections.
    const old = view.ws;
    view.ws = null;
    if (old) old.close(1000, "reconnecting");
    closePeer();
  } else {
    stopWatching();
    clearNotice();
  }
  view.closing = false;
  view.device = device;
  view.unredacted = unredacted;
  $("breakglass").hidden = !session.permissions.includes("redaction_override");
  for (const b of document.querySelectorAll(".device")) {
    b.setAttribute("aria-pressed", String(b.dataset.deviceId === device.id));
  }
  $("viewer-title").textContent = device.name;
  showDrive(device); // the pad only for those whose permissions allow driving
  showPtz(device); // the camera pad only with camera_control on a ptz camera
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
      view.me = message.id;
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
        closePeer();
        reconnect.down("device");
      }
      break;
    case "control_holder":
      onHolder(message);
      break;
    case "camera_pose":
      onPose(message);
      break;
    case "detections":
      onDetections(message, view.device);
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
  if (message.code === "forbidden" || message.code === "not_subscribed" || message.code === "locked") {
    refused(); // no stop for a refused command: someone else may be driving
    ptzRefused();
  }
  if (message.code === "offline") {
    // Not connected now: the view waits for it and subscribes again by itself.
    setStatus("Not streaming.");
    const first = !reconnect.active();
    reconnect.down("device");
    if (first) notify(words.offline, "info");
    return;
  }
  if (message.code === "not_found") setStatus("Not streaming.");
  if (message.code === "locked") {
    const name = message.holder ? message.holder.name : "Someone else";
    notify(`${name} is driving this device. Wait, or ask them to release it.`);
    return;
  }
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
  if (!FINAL_CLOSES.has(event.code)) {
    // A network drop, a restarting or busy server: try again by itself.
    reconnect.down("network");
    return;
  }
  notify(words[event.code] || `The connection closed (code ${event.code}).`);
}

function onCallError(err) {
  setStatus("Video failed.");
  notify(`Could not start the video: ${err && err.message ? err.message : err}`);
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
      reconnect.up();
    } else if (state === "failed") {
      setStatus("Video failed.");
      if (reconnect.active()) {
        closePeer();
        reconnect.down("device");
        return;
      }
      notify("The video connection failed: the network between you and the device (or the TURN relay) is blocked.");
    } else if (state === "disconnected") {
      setStatus("Connection interrupted…");
    }
  });
  await pc.setLocalDescription(await pc.createOffer());
  setStatus("Gathering network paths…");
  await iceGathered(pc);
  if (pc !== view.pc) return;
  send({ type: "offer", to: view.peer, sdp: pc.localDescription.sdp });
  setStatus("Waiting for the device…");
}

// ---------------------------------------------------------------- the page

// The signaling socket would close at the old token's expiry: hand it the fresh one.
export function reauth(token) {
  send({ type: "reauth", token });
}

export function createLive(ctx) {
  signedOut = ctx.signedOut;
  $("devices-refresh").addEventListener("click", loadDevices);
  $("breakglass-form").addEventListener("submit", onBreakGlass);
  $("breakglass-end").addEventListener("click", onEndBreakGlass);
  wireDrive({ view: () => view, send });
  wirePtz({ view: () => view });
  wireOverlay();
  return {
    view: "console-view",
    tab: "tab-live",
    needs: () => true,
    enter: loadDevices,
    leave: () => {
      stopWatching();
      stopThumbnails();
    },
    reset: () => {
      stopWatching();
      forgetThumbnails();
      $("device-list").replaceChildren();
    },
  };
}
