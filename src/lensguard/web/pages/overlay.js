// The detections overlay of the Live page: what the server's AI chain found, boxed on
// the video. docs/console.md, docs/signaling.md (`detections`).
//
// Boxes come in the processed frame's pixels. The SVG lies over the video with a
// viewBox of the frame's size and the same letterboxing as the video's
// `object-fit: contain` (preserveAspectRatio meet), so a box needs no arithmetic.
// The relay sends at most five messages a second; boxes not renewed within a second
// are taken away, so a stream whose chain stopped finding things shows none.

import { $ } from "../core.js";

const SVG = "http://www.w3.org/2000/svg";
const STALE_MS = 1000;
const MAX_BOXES = 50; // what one message may draw, whatever the server sent

let stale = null;
let seen = false; // a detections message came for the device watched now

function element(name, attributes) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function clear() {
  $("overlay").replaceChildren();
  const shown = $("overlay-toggle").checked;
  $("overlay-summary").textContent = !seen ? "" : shown ? "Nothing detected now." : "Detections are hidden.";
  clearTimeout(stale);
  stale = null;
}

function valid(item) {
  return (
    item &&
    Array.isArray(item.box) &&
    item.box.length === 4 &&
    item.box.every((n) => Number.isFinite(n)) &&
    typeof item.label === "string" &&
    Number.isFinite(item.score)
  );
}

function draw(items) {
  const video = $("video");
  const svg = $("overlay");
  if (!video.videoWidth || !video.videoHeight) return;
  svg.setAttribute("viewBox", `0 0 ${video.videoWidth} ${video.videoHeight}`);
  const line = Math.max(2, video.videoWidth / 320);
  const size = Math.max(12, video.videoWidth / 40);
  const drawn = items.filter(valid).slice(0, MAX_BOXES);
  svg.replaceChildren(
    ...drawn.map((item) => {
      const [x, y, w, h] = item.box;
      const group = element("g", { class: "box", "data-label": item.label });
      group.append(element("rect", { x, y, width: w, height: h, "stroke-width": line }));
      const caption = element("text", { x: x + line, y: Math.max(size, y - line), "font-size": size });
      caption.textContent = `${item.label} ${Math.round(item.score * 100)}%`;
      group.append(caption);
      return group;
    }),
  );
  const labels = drawn.map((item) => item.label);
  $("overlay-summary").textContent = labels.length ? `Detected: ${labels.join(", ")}.` : "Nothing detected now.";
}

// A detections message from the relay serving this page's view.
export function onDetections(message, device) {
  if (!device || message.device_id !== device.id || !Array.isArray(message.items)) return;
  if (!seen) {
    seen = true;
    $("overlay-controls").hidden = false;
  }
  clearTimeout(stale);
  stale = setTimeout(clear, STALE_MS);
  if ($("overlay-toggle").checked) draw(message.items);
}

// The device being watched changed: nothing is drawn until its chain says so.
export function resetOverlay() {
  seen = false;
  clear();
  $("overlay-controls").hidden = true;
}

export function wireOverlay() {
  $("overlay-toggle").addEventListener("change", () => {
    $("overlay").classList.toggle("off", !$("overlay-toggle").checked);
    if (!$("overlay-toggle").checked) clear();
  });
}
