// Audit log (audit_read): the tamper-evident chain, filtered and paged by sequence
// number (GET /audit), and a check of the whole chain (GET /audit/verify). Reading a
// page is itself reported as data leaving (the server's data.egress event).

import { $, API, clearNotice, el, once, session } from "../core.js";
import { pagedTable, refused, utc } from "./table.js";

const DETAILS_SHOWN = 160;

// "2026-12-07T10:00:00Z" from a datetime-local value read as UTC; null when empty.
function utcParam(value) {
  if (!value) return null;
  const ms = Date.parse(`${value.length === 16 ? `${value}:00` : value}Z`);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

function who(item) {
  if (item.personal_erased) return `${item.actor_type} (erased)`;
  return item.actor_name || item.actor_id || item.actor_type;
}

function detailsCell(details) {
  const text = Object.keys(details || {}).length ? JSON.stringify(details) : "";
  const cell = el("td", undefined, "details");
  const code = el("code", text.length > DETAILS_SHOWN ? `${text.slice(0, DETAILS_SHOWN)}…` : text);
  if (text.length > DETAILS_SHOWN) code.title = text;
  cell.append(code);
  return cell;
}

export function createAudit(ctx) {
  function query() {
    const params = new URLSearchParams({ limit: "100" });
    const fields = { actor: "audit-actor", action: "audit-action", resource_id: "audit-resource" };
    for (const [name, id] of Object.entries(fields)) {
      const value = $(id).value.trim();
      if (value) params.set(name, value);
    }
    const since = utcParam($("audit-since").value);
    const until = utcParam($("audit-until").value);
    if (since) params.set("since", since);
    if (until) params.set("until", until);
    return `${API}/audit?${params}`;
  }

  function entryRow(item) {
    const tr = document.createElement("tr");
    const resource = [item.resource_type, item.resource_id].filter(Boolean).join(" ");
    for (const text of [item.seq, utc(item.ts), who(item), item.source_address || "", item.action, resource, item.outcome]) {
      tr.append(el("td", text));
    }
    tr.append(detailsCell(item.details));
    if (item.outcome !== "success") tr.classList.add("refused");
    tr.dataset.seq = String(item.seq);
    return tr;
  }

  const table = pagedTable(ctx, { rows: "audit-rows", more: "audit-more", empty: "audit-empty", query, build: entryRow });
  const load = table.load;

  async function verify() {
    const epoch = session.epoch;
    const result = $("audit-verify-result");
    result.textContent = "Checking every entry…";
    let report;
    try {
      report = await ctx.api("GET", "/audit/verify");
    } catch (err) {
      result.textContent = "";
      if (epoch === session.epoch) refused(ctx, err);
      return;
    }
    if (epoch !== session.epoch) return;
    const from = report.anchor_seq ? ` from the retention anchor at #${report.anchor_seq}` : "";
    const erased = report.erased ? `; ${report.erased} with personal fields erased` : "";
    result.textContent = report.ok
      ? `The chain is intact: ${report.checked} entries verified${from}${erased}.`
      : `The chain is broken at #${report.first_broken_seq}: ${report.reason}. ${report.checked} entries verified before it.`;
    result.classList.toggle("bad", !report.ok);
  }

  $("audit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearNotice();
    once($("audit-show"), () => load(true));
  });
  $("audit-more").addEventListener("click", () => once($("audit-more"), () => load(false)));
  $("audit-verify").addEventListener("click", () => once($("audit-verify"), verify));

  return {
    view: "audit-view",
    tab: "tab-audit",
    needs: (permissions) => permissions.includes("audit_read"),
    enter: () => load(true),
    leave: () => {},
    reset: () => {
      table.reset();
      $("audit-verify-result").textContent = "";
    },
  };
}
