// The console's navigation: which view is on screen and which tabs a user sees.
//
// A page is a module whose factory returns { view, tab, needs, enter, leave, reset }:
// `view` is its <section> id, `tab` its tab button id, `needs(permissions)` whether the
// user's permissions (from GET /users/me) allow it. The server decides what each call
// may do; hiding a tab only spares users buttons that would be refused.

import { $, clearNotice } from "./core.js";

// Views outside the tabs: signing in and the steps a restricted account must take.
const STEPS = ["login-view", "password-view", "mfa-view"];
const pages = [];

export function addPage(page) {
  pages.push(page);
}

function page(view) {
  return pages.find((p) => p.view === view);
}

export function current() {
  const open = pages.find((p) => !$(p.view).hidden);
  return open ? open.view : null;
}

// Shows one view (a step or a page) and hides every other.
export function show(which) {
  for (const id of [...STEPS, ...pages.map((p) => p.view)]) {
    $(id).hidden = id !== which;
  }
  $("who").hidden = which === "login-view";
  $("tabs").hidden = !page(which);
  for (const tab of document.querySelectorAll(".tab")) {
    tab.setAttribute("aria-pressed", String(tab.dataset.view === which));
  }
}

// Leaves the open page and enters `which` (a page the tabs offer).
export function open(which) {
  const from = current();
  if (from === which) return;
  const target = page(which);
  if (!target || $(target.tab).hidden) return;
  if (from) page(from).leave();
  clearNotice();
  show(which);
  target.enter();
}

// Shows the tabs the permissions allow; the first page is where the console opens.
export function allow(permissions) {
  for (const p of pages) $(p.tab).hidden = !p.needs(permissions);
}

// Shows `which` and enters it, coming from a step (sign-in) rather than another page.
export async function enter(which) {
  show(which);
  await page(which).enter();
}

export function allowed(which) {
  const target = page(which);
  return Boolean(target) && !$(target.tab).hidden;
}

export function resetAll() {
  for (const p of pages) p.reset();
}

export function leaveAll() {
  const from = current();
  if (from) page(from).leave();
}

export function wireTabs() {
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => open(tab.dataset.view));
  }
}
