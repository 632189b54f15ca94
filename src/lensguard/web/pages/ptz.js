// The pan/tilt/zoom pad of the Live page, for cameras. docs/console.md, docs/signaling.md.
//
// `ptz` sets an absolute pose, so each press steps from where the camera points: the
// server tells every watcher the last pose commanded (`camera_pose`, on subscribe and
// on every move, whoever made it). Holding a button keeps stepping. The pad shows only
// to those with camera_control on a camera with the ptz capability; the server
// decides every command all the same, and a ptz takes the control lock like a move.

import { $, session } from "../core.js";
import { controlMessage, holdable, sendControl } from "./drive.js";

const REPEAT_MS = 250; // one step four times a second while a button is held
const HOME = Object.freeze({ pan: 0, tilt: 0, zoom: 0 });
const RANGE = { pan: [-1, 1], tilt: [-1, 1], zoom: [0, 1] };

let link = { view: () => ({}) }; // set by wirePtz
let pose = null; // the last pose the server told, or null while none is known
const hold = { button: null, timer: null, sent: null };

function clamp(axis, value) {
  const [low, high] = RANGE[axis];
  return Math.round(Math.min(high, Math.max(low, value)) * 100) / 100;
}

// The pose one press of `button` asks for, from `from`.
function target(button, from) {
  if (button.dataset.axis === "home") return { ...HOME };
  const axis = button.dataset.axis;
  return { ...from, [axis]: clamp(axis, from[axis] + Number(button.dataset.step)) };
}

function same(a, b) {
  return a.pan === b.pan && a.tilt === b.tilt && a.zoom === b.zoom;
}

function step() {
  const from = hold.sent ?? pose ?? HOME;
  const next = target(hold.button, from);
  if (hold.sent && same(next, hold.sent)) return; // at the end of its travel
  hold.sent = next;
  sendControl(controlMessage("ptz", next));
}

function begin(button) {
  if (!link.view().device) return;
  end();
  hold.button = button;
  hold.sent = null;
  button.classList.add("held");
  step();
  if (button.dataset.axis !== "home") hold.timer = setInterval(step, REPEAT_MS);
}

function end() {
  if (!hold.button) return;
  clearInterval(hold.timer);
  hold.button.classList.remove("held");
  Object.assign(hold, { button: null, timer: null, sent: null });
}

// A refusal (not allowed, someone else steers): stop repeating.
export function ptzRefused() {
  end();
}

function fixed(value) {
  return value.toFixed(2).replace("-", "\u2212");
}

function showPose() {
  $("ptz-pose").textContent = pose
    ? `Pan ${fixed(pose.pan)} \u00b7 Tilt ${fixed(pose.tilt)} \u00b7 Zoom ${fixed(pose.zoom)}`
    : "Pose not known yet: steps start from Home.";
  const at = pose ?? HOME;
  for (const button of document.querySelectorAll("#ptz button[data-step]")) {
    const axis = button.dataset.axis;
    const edge = RANGE[axis][Number(button.dataset.step) < 0 ? 0 : 1];
    button.disabled = at[axis] === edge; // nothing further that way
  }
}

// A camera_pose message: where the camera points now.
export function onPose(message) {
  const view = link.view();
  if (!view.device || message.device_id !== view.device.id) return;
  pose = { pan: message.pan, tilt: message.tilt, zoom: message.zoom };
  showPose();
}

// The device being watched changed (null: none).
export function showPtz(device) {
  end();
  pose = null;
  const camera = Boolean(device && device.capabilities.includes("ptz"));
  $("ptz").hidden = !camera || !session.permissions.includes("camera_control");
  if (!$("ptz").hidden) showPose();
}

export function wirePtz(ctx) {
  link = ctx;
  for (const button of document.querySelectorAll("#ptz button")) {
    holdable(button, () => begin(button), end, () => hold.button === button);
  }
  window.addEventListener("blur", end);
}
