// Reading a gamepad for driving: the left stick moves, the bottom face button stops.
// Polled from requestAnimationFrame by drive.js while a drivable device is watched.

const DEAD_ZONE = 0.2; // sticks rest a little off centre
const SPEED = 0.5; // full stick: the pad's speed
const STOP_BUTTON = 0; // "A" / cross in the standard mapping

// Round so that a stick held still repeats the same command (one audited gesture).
function quantise(value) {
  if (Math.abs(value) < DEAD_ZONE) return 0;
  return Math.round(value * SPEED * 10) / 10;
}

// null without a connected gamepad; else { stop: true }, { move: {linear, angular} } or {}.
export function pollGamepad() {
  const pads = navigator.getGamepads ? navigator.getGamepads() : [];
  const pad = Array.from(pads).find((p) => p && p.connected);
  if (!pad) return null;
  if (pad.buttons[STOP_BUTTON] && pad.buttons[STOP_BUTTON].pressed) return { stop: true };
  // Stick up is negative Y; stick left is negative X, a left turn is positive angular.
  const linear = quantise(-(pad.axes[1] || 0));
  const angular = quantise(-(pad.axes[0] || 0));
  if (linear === 0 && angular === 0) return {};
  return { move: { linear: linear + 0, angular: angular + 0 } };
}
