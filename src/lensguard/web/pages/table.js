// Table rows and form refusals shared by the admin pages.

import { ApiError, el, notify, problemText } from "../core.js";

// A <tr> of text cells, then a cell of controls (buttons), if any.
export function row(cells, controls = []) {
  const tr = document.createElement("tr");
  for (const text of cells) tr.append(el("td", text));
  const actions = el("td", undefined, "actions");
  actions.append(...controls);
  tr.append(actions);
  return tr;
}

// "2026-12-07 01:20:33" from an ISO time (UTC, like the rest of the console).
export function utc(value) {
  return value ? `${value.slice(0, 10)} ${value.slice(11, 19)}` : "";
}

// A refused form or button: an expired session returns to sign-in; anything else shows
// the server's problem title and detail.
export function refused(ctx, err) {
  if (err instanceof ApiError && err.status === 401) ctx.expired();
  else notify(problemText(err));
}
