// Table rows and form refusals shared by the admin pages.

import { ApiError, apiPage, el, notify, problemText, session } from "../core.js";

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

// A table filled a page at a time: `load(true)` reads the first page of `query()`,
// `load(false)` the next one (after "Show more"); answers for an ended session are
// dropped. `build(item)` makes one row.
export function pagedTable(ctx, { rows, more, empty, query, build }) {
  let next = null;
  async function load(fresh) {
    const epoch = session.epoch;
    const url = fresh ? query() : next;
    if (!url) return;
    let page;
    try {
      page = await apiPage(url);
    } catch (err) {
      if (epoch === session.epoch) refused(ctx, err);
      return;
    }
    if (epoch !== session.epoch) return;
    const body = document.getElementById(rows);
    if (fresh) body.replaceChildren();
    body.append(...page.items.map(build));
    next = page.next;
    document.getElementById(more).hidden = !next;
    document.getElementById(empty).hidden = body.children.length > 0;
  }
  function reset() {
    next = null;
    document.getElementById(rows).replaceChildren();
    document.getElementById(more).hidden = true;
  }
  return { load, reset };
}
