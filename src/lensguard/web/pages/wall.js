// Wall (camera_view): 4 or 9 devices at once, each in its own tile, all in relay mode
// (the processed, redacted picture) over one signaling socket with one peer connection
// per tile. A tile's device can be changed, and a tile can go full screen. Leaving the
// page closes every connection; a device that leaves shows "Offline" in its tile.

import { $, API, api, apiAll, clearNotice, el, iceGathered, session } from "../core.js";
import { refused } from "./table.js";

const wall = { ws: null, tiles: [], devices: [], iceServers: [], queue: [], asking: null };

function send(message) {
  if (wall.ws && wall.ws.readyState === WebSocket.OPEN) wall.ws.send(JSON.stringify(message));
}

export function reauthWall(token) {
  send({ type: "reauth", token });
}

function setState(tile, text) {
  tile.state.textContent = text;
  tile.node.dataset.state = text.toLowerCase();
}

function hangUp(tile) {
  if (tile.pc) tile.pc.close();
  tile.pc = null;
  tile.peer = null;
  tile.video.srcObject = null;
}

// Subscriptions go one at a time: an error answer names no device, so the one asked
// about is the one waiting.
function askNext() {
  if (wall.asking || !wall.queue.length) return;
  wall.asking = wall.queue.shift();
  setState(wall.asking, "Connecting");
  send({ type: "subscribe", device_id: wall.asking.deviceId, mode: "relay" });
}

async function call(tile, peer) {
  hangUp(tile);
  const pc = new RTCPeerConnection({ iceServers: wall.iceServers });
  tile.pc = pc;
  tile.peer = peer;
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addEventListener("track", (event) => {
    tile.video.srcObject = event.streams[0] || new MediaStream([event.track]);
    tile.video.play().catch(() => {});
  });
  pc.addEventListener("connectionstatechange", () => {
    if (pc !== tile.pc) return;
    if (pc.connectionState === "connected") setState(tile, "Live");
    else if (pc.connectionState === "failed") setState(tile, "Failed");
  });
  await pc.setLocalDescription(await pc.createOffer());
  await iceGathered(pc);
  send({ type: "offer", to: peer, sdp: pc.localDescription.sdp });
}

async function onSignal(message) {
  switch (message.type) {
    case "ready":
      askNext();
      break;
    case "subscribed": {
      const tile = wall.asking;
      wall.asking = null;
      if (tile && tile.deviceId === message.device_id) await call(tile, message.peer);
      askNext();
      break;
    }
    case "answer": {
      const tile = wall.tiles.find((t) => t.peer === message.from);
      if (tile && tile.pc) await tile.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
      break;
    }
    case "leave": {
      const tile = wall.tiles.find((t) => t.peer === message.from);
      if (tile) {
        hangUp(tile);
        setState(tile, "Offline");
      }
      break;
    }
    case "error":
      if (wall.asking) {
        setState(wall.asking, message.code === "offline" ? "Offline" : "Refused");
        wall.asking.state.title = message.message || "";
        wall.asking = null;
        askNext();
      }
      break;
    default:
      break;
  }
}

function open() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/v1/signal`); // the token is the first message
  wall.ws = ws;
  ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", token: session.token })));
  ws.addEventListener("message", (event) => {
    if (ws === wall.ws) onSignal(JSON.parse(event.data)).catch(() => {});
  });
  ws.addEventListener("close", () => {
    if (ws !== wall.ws) return;
    wall.ws = null;
    for (const tile of wall.tiles) {
      hangUp(tile);
      if (tile.deviceId) setState(tile, "Disconnected");
    }
  });
}

function watchTile(tile, deviceId) {
  hangUp(tile);
  tile.deviceId = deviceId;
  const device = wall.devices.find((d) => d.id === deviceId);
  tile.name.textContent = device ? `${device.name} (${device.site})` : "Empty";
  if (!deviceId) {
    setState(tile, "Empty");
    return;
  }
  wall.queue.push(tile);
  if (wall.ws && wall.ws.readyState === WebSocket.OPEN) askNext();
}

function buildTile(index) {
  const node = el("figure", undefined, "wall-tile");
  const video = el("video");
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.setAttribute("aria-label", `Tile ${index + 1}`);
  const caption = el("figcaption");
  const name = el("span", "Empty", "wall-name");
  const state = el("span", "Empty", "wall-state");
  const choose = el("select");
  choose.setAttribute("aria-label", `Device in tile ${index + 1}`);
  const none = el("option", "(none)");
  none.value = "";
  choose.append(none, ...wall.devices.map((d) => Object.assign(el("option", d.name), { value: d.id })));
  const full = el("button", "Full screen", "secondary small");
  full.type = "button";
  full.setAttribute("aria-label", `Tile ${index + 1} full screen`);
  full.addEventListener("click", () => node.requestFullscreen().catch(() => {}));
  caption.append(name, state, choose, full);
  node.append(video, caption);
  const tile = { node, video, name, state, choose, deviceId: "", pc: null, peer: null };
  choose.addEventListener("change", () => {
    clearNotice();
    watchTile(tile, choose.value);
  });
  return tile;
}

function close() {
  const ws = wall.ws;
  wall.ws = null;
  if (ws) ws.close(1000, "wall closed");
  for (const tile of wall.tiles) hangUp(tile);
  wall.tiles = [];
  wall.queue = [];
  wall.asking = null;
  $("wall-grid").replaceChildren();
}

export function createWall(ctx) {
  async function layout() {
    close();
    const epoch = session.epoch;
    try {
      wall.devices = await apiAll(`${API}/devices?limit=200`);
      wall.iceServers = (await api("GET", "/turn-credentials")).ice_servers;
    } catch (err) {
      if (epoch === session.epoch) refused(ctx, err);
      return;
    }
    if (epoch !== session.epoch) return;
    const size = Number($("wall-size").value);
    $("wall-grid").dataset.size = String(size);
    wall.tiles = Array.from({ length: size }, (_, i) => buildTile(i));
    $("wall-grid").replaceChildren(...wall.tiles.map((t) => t.node));
    // Online devices first, in the list's order, one per tile.
    const online = wall.devices.filter((d) => d.online);
    wall.tiles.forEach((tile, i) => {
      const device = online[i];
      tile.choose.value = device ? device.id : "";
      watchTile(tile, device ? device.id : "");
    });
    open();
  }

  $("wall-size").addEventListener("change", layout);

  return {
    view: "wall-view",
    tab: "tab-wall",
    needs: (permissions) => permissions.includes("camera_view"),
    enter: layout,
    leave: close,
    reset: close,
  };
}
