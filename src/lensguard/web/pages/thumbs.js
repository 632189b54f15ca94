// Device thumbnails on the Live page: GET /devices/{id}/thumbnail (camera_view), the
// processed (redacted) picture the server caches for a few seconds, shown from a blob:
// URL (fetched with the bearer header). Refreshed every REFRESH_MS while the Live page
// is open; an offline device or a refused picture shows no image, never an old one.

import { API, fetchFile, session } from "../core.js";

const REFRESH_MS = 10000;
const shown = new Map(); // device id -> { img, url }
let timer = null;

async function fill(deviceId) {
  const entry = shown.get(deviceId);
  if (!entry) return;
  const epoch = session.epoch;
  let file = null;
  try {
    file = await fetchFile(`${API}/devices/${encodeURIComponent(deviceId)}/thumbnail`, "image/jpeg", "thumbnail.jpg");
  } catch (err) {
    file = null; // offline, out of scope, or no picture in time: no image
  }
  if (epoch !== session.epoch || shown.get(deviceId) !== entry) return;
  if (entry.url) URL.revokeObjectURL(entry.url);
  entry.url = file ? URL.createObjectURL(file.blob) : null;
  entry.img.hidden = !file;
  if (file) entry.img.src = entry.url;
}

// Shows `deviceId`'s thumbnail in `img` (hidden until a picture arrives).
export function thumbnail(img, deviceId) {
  img.hidden = true;
  shown.set(deviceId, { img, url: null });
  fill(deviceId);
}

export function refreshThumbnails() {
  stopThumbnails();
  timer = setInterval(() => {
    for (const id of shown.keys()) fill(id);
  }, REFRESH_MS);
}

// Stops refreshing and forgets every picture (leaving the page, a new device list).
export function stopThumbnails() {
  clearInterval(timer);
  timer = null;
}

export function forgetThumbnails() {
  stopThumbnails();
  for (const entry of shown.values()) if (entry.url) URL.revokeObjectURL(entry.url);
  shown.clear();
}
