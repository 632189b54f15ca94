// Driving one device from the Live page: the drive pad, keyboard and gamepad, and the
// control lock (who drives, Take over, Release). docs/console.md, docs/signaling.md.
//
// The server decides every command; this page only shows what the permissions from
// /users/me allow (the pad with basic_control, Take over with control_override).

import { $, notify, session } from "../core.js";
import { pollGamepad } from "./gamepad.js";

const REPEAT_MS = 200; // the robot's dead-man timer stops it unless commands keep coming
const KEYS = {
  w: "drive-forward",
  arrowup: "drive-forward",
  s: "drive-back",
  arrowdown: "drive-back",
  a: "drive-left",
  arrowleft: "drive-left",
  d: "drive-right",
  arrowright: "drive-right",
};

let link = { view: () => ({}), send: () => {} }; // set by wireDrive
let seq = 0; // increases for every control command this page sends
const hold = { timer: null, button: null, key: null, refused: false, sent: false };
const lock = { holder: null, frame: null, stick: { moving: false, stopHeld: false, last: "", at: 0 } };

function may(permission) {
  return session.permissions.includes(permission);
}

function canDrive() {
  return !$("drive").hidden;
}

// ---------------------------------------------------------------- sending

export function sendControl(message) {
  const channel = link.view().channel;
  if (channel && channel.readyState === "open") {
    channel.send(JSON.stringify(message));
  } else {
    link.send(message);
  }
}

// A control message with this page's next sequence number (drive and camera share it).
export function controlMessage(command, args) {
  const message = { type: "control", device_id: link.view().device.id, command, seq: ++seq };
  if (args) message.args = args;
  return message;
}

function command(button) {
  const kind = button.dataset.command;
  const args = kind === "move" ? { linear: Number(button.dataset.linear), angular: Number(button.dataset.angular) } : null;
  return controlMessage(kind, args);
}

function stopNow() {
  hold.refused = true; // no second stop from endHold
  endHold();
  if (link.view().device) sendControl(controlMessage("stop"));
}

// ---------------------------------------------------------------- holding a button

function beginHold(button, key = null) {
  const view = link.view();
  if (!view.device || !view.ws) {
    notify("Open a device's video before driving it.");
    return;
  }
  endHold();
  hold.button = button;
  hold.key = key;
  hold.refused = false;
  hold.sent = true;
  button.classList.add("held");
  sendControl(command(button));
  if (button.dataset.command === "move") {
    hold.timer = setInterval(() => sendControl(command(button)), REPEAT_MS);
  }
}

export function endHold() {
  if (!hold.button) return;
  clearInterval(hold.timer);
  hold.button.classList.remove("held");
  const wasMove = hold.button.dataset.command === "move";
  hold.timer = null;
  hold.button = null;
  hold.key = null;
  // Stop explicitly on release rather than waiting for the dead-man timer.
  if (wasMove && hold.sent && !hold.refused && link.view().device) {
    sendControl(controlMessage("stop"));
  }
}

// A refusal (not allowed, someone else drives): stop repeating, and send no stop for it.
export function refused() {
  hold.refused = true;
  endHold();
}

// Press and hold on a button: by pointer (captured, so releasing anywhere ends it) or
// by Space/Enter on the focused button; `held()` says whether it is the one held now.
export function holdable(button, begin, end, held) {
  button.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    button.setPointerCapture?.(event.pointerId);
    begin();
  });
  for (const kind of ["pointerup", "pointercancel", "lostpointercapture", "blur"]) {
    button.addEventListener(kind, () => {
      if (held()) end();
    });
  }
  button.addEventListener("keydown", (event) => {
    if ((event.key === " " || event.key === "Enter") && !event.repeat) {
      event.preventDefault();
      event.stopPropagation(); // not the page's Space-to-stop
      begin();
    }
  });
  button.addEventListener("keyup", (event) => {
    if ((event.key === " " || event.key === "Enter") && held()) end();
  });
}

function wirePad() {
  for (const button of document.querySelectorAll("#drive .pad button")) {
    holdable(button, () => beginHold(button), endHold, () => hold.button === button);
  }
}

// ---------------------------------------------------------------- keyboard

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function onKeyDown(event) {
  if (!canDrive() || !link.view().device || typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.toLowerCase();
  if (key === " ") {
    if (event.target instanceof HTMLButtonElement) return; // a focused button's own Space
    event.preventDefault();
    stopNow();
    return;
  }
  const id = KEYS[key];
  if (!id) return;
  event.preventDefault();
  if (!event.repeat && hold.key !== key) beginHold($(id), key);
}

function onKeyUp(event) {
  if (hold.key && event.key.toLowerCase() === hold.key) endHold();
}

// ---------------------------------------------------------------- gamepad

function gamepadFrame() {
  lock.frame = null;
  if (!link.view().device || !canDrive()) return;
  const read = pollGamepad(); // null without a gamepad
  const stick = lock.stick;
  const now = performance.now();
  if (read && read.stop) {
    if (!stick.stopHeld) stopNow(); // once per press
    Object.assign(stick, { stopHeld: true, moving: false, last: "" });
  } else if (read && read.move) {
    stick.stopHeld = false;
    const key = `${read.move.linear}/${read.move.angular}`;
    if (key !== stick.last || now - stick.at >= REPEAT_MS) {
      sendControl(controlMessage("move", read.move));
      Object.assign(stick, { moving: true, last: key, at: now });
    }
  } else {
    stick.stopHeld = false;
    if (stick.moving) sendControl(controlMessage("stop")); // the stick came back to the centre
    Object.assign(stick, { moving: false, last: "" });
  }
  lock.frame = requestAnimationFrame(gamepadFrame);
}

function startGamepad() {
  if (typeof navigator.getGamepads !== "function" || lock.frame !== null) return;
  lock.frame = requestAnimationFrame(gamepadFrame);
}

function stopGamepad() {
  if (lock.frame !== null) cancelAnimationFrame(lock.frame);
  lock.frame = null;
  lock.stick = { moving: false, stopHeld: false, last: "", at: 0 };
}

// ---------------------------------------------------------------- the control lock

function showHolder() {
  const holder = lock.holder;
  const mine = Boolean(holder && holder.connection === link.view().me);
  $("control-holder").textContent = !holder ? "Nobody is driving." : mine ? "You are driving" : `Driving: ${holder.name}`;
  $("control-release").hidden = !mine;
  $("control-take").hidden = !holder || mine || !may("control_override");
}

// A control_holder message: who drives the device now.
export function onHolder(message) {
  const view = link.view();
  if (!view.device || message.device_id !== view.device.id) return;
  const before = lock.holder;
  lock.holder = message.holder;
  const me = view.me;
  if (message.reason === "taken" && message.previous && message.previous.connection === me) {
    refused(); // the server already stopped the robot for the new driver
    notify(`${message.holder.name} took over control of this device.`, "info");
  } else if (message.reason === "expired" && before && before.connection === me) {
    notify("You have not driven for a while: the device is free for others.", "info");
  }
  showHolder();
}

// The device being watched changed (null: none).
export function showDrive(device) {
  endHold();
  stopGamepad();
  lock.holder = null;
  const controllable = Boolean(device && device.capabilities.includes("control"));
  const steerable = controllable || Boolean(device && device.capabilities.includes("ptz"));
  $("control-lock").hidden = !steerable; // a ptz takes the lock like a move
  $("drive").hidden = !controllable || !may("basic_control");
  if (steerable) showHolder();
  if (!$("drive").hidden) startGamepad();
}

export function wireDrive(ctx) {
  link = ctx;
  wirePad();
  document.addEventListener("keydown", onKeyDown);
  document.addEventListener("keyup", onKeyUp);
  $("control-take").addEventListener("click", () => {
    const view = link.view();
    if (view.device) link.send({ type: "control_take", device_id: view.device.id });
  });
  $("control-release").addEventListener("click", () => {
    const view = link.view();
    endHold();
    if (view.device) link.send({ type: "control_release", device_id: view.device.id });
  });
  // A hidden tab or lost focus must not leave a robot driving.
  window.addEventListener("blur", endHold);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) endHold();
  });
}
