// Compliance (compliance_manage, scoped to everything): the access review — run on
// demand and audited, stale accounts chosen and disabled with a reason — and the
// GDPR, HIPAA, SOX and PCI DSS reports, shown as controls with their evidence or
// downloaded as one printable page (fetched with the bearer header, never a URL token).

import { $, API, api, clearNotice, el, fetchFile, notify, once, saveFile, session } from "../core.js";
import { refused, row, utc } from "./table.js";

const STATUS = { evidenced: "Evidenced", gap: "Gap", no_evidence: "No evidence" };

function finding(account, review) {
  const found = [];
  if (account.stale) found.push(`no sign-in for ${review.options.stale_days} days`);
  if (review.privileged_without_mfa.includes(account.id)) found.push("privileged without two-factor");
  if (account.disabled) found.push("disabled");
  return found.join("; ");
}

function period(days) {
  const end = new Date();
  const start = new Date(end.getTime() - days * 86_400_000);
  return new URLSearchParams({ from: start.toISOString(), to: end.toISOString() });
}

export function createCompliance(ctx) {
  const state = { review: null };

  function reviewRow(account, review) {
    const controls = [];
    if (account.stale && !account.disabled && account.id !== session.userId) {
      const choose = document.createElement("input");
      choose.type = "checkbox";
      choose.value = account.id;
      choose.className = "review-choose";
      choose.setAttribute("aria-label", `Choose ${account.username} to disable`);
      controls.push(choose);
    }
    return row(
      [account.username, account.role, account.sites.join(", "), account.mfa ? "on" : "off", account.last_login ? utc(account.last_login) : "never", finding(account, review)],
      controls,
    );
  }

  async function runReview() {
    const epoch = session.epoch;
    let review;
    try {
      review = await api("GET", `/compliance/access-review?stale_days=${encodeURIComponent($("review-stale").value)}`);
    } catch (err) {
      if (epoch === session.epoch) refused(ctx, err);
      return;
    }
    if (epoch !== session.epoch) return;
    state.review = review;
    const s = review.summary;
    $("review-summary").textContent =
      `Reviewed ${utc(review.at)} UTC: ${s.accounts} accounts, ${review.stale_accounts.length} stale, ` +
      `${review.privileged_without_mfa.length} privileged without two-factor, ${review.unused_api_keys.length} unused API keys, ` +
      `${review.idle_devices.length} idle devices. Next review due ${utc(review.next_due).slice(0, 10)}.`;
    $("review-table").hidden = false;
    $("review-rows").replaceChildren(...review.accounts.map((a) => reviewRow(a, review)));
    $("review-disable").hidden = !document.querySelector(".review-choose");
  }

  async function disableChosen() {
    const chosen = [...document.querySelectorAll(".review-choose:checked")].map((box) => box.value);
    if (!chosen.length) {
      notify("Choose at least one stale account first.");
      return;
    }
    let result;
    try {
      result = await api("POST", "/compliance/access-review/disable-stale", {
        user_ids: chosen,
        stale_days: Number($("review-stale").value),
        reason: $("review-reason").value.trim(),
      });
    } catch (err) {
      refused(ctx, err);
      return;
    }
    notify(`Disabled ${result.disabled.length} account(s); their sessions ended and keys were revoked.`, "info");
    $("review-reason").value = "";
    await runReview();
  }

  async function showReport() {
    const epoch = session.epoch;
    const framework = $("report-framework").value;
    let report;
    try {
      report = await api("GET", `/compliance/reports/${encodeURIComponent(framework)}?${period(Number($("report-days").value))}`);
    } catch (err) {
      if (epoch === session.epoch) refused(ctx, err);
      return;
    }
    if (epoch !== session.epoch) return;
    const counts = Object.entries(report.summary).map(([k, v]) => `${v} ${(STATUS[k] || k).toLowerCase()}`);
    $("report-summary").textContent = `${report.title}, ${report.from.slice(0, 10)} to ${report.to.slice(0, 10)}: ${counts.join(", ")}.`;
    $("report-table").hidden = false;
    $("report-rows").replaceChildren(
      ...report.controls.map((control) => {
        const tr = row([control.id, control.title, STATUS[control.status] || control.status]);
        const evidence = tr.lastChild;
        const list = el("ul", undefined, "evidence");
        for (const item of control.evidence) list.append(el("li", `${STATUS[item.status] || item.status}: ${item.summary}`));
        evidence.append(list);
        tr.classList.add(`status-${control.status}`);
        return tr;
      }),
    );
  }

  async function downloadReport() {
    const framework = $("report-framework").value;
    const query = period(Number($("report-days").value));
    query.set("format", "html");
    try {
      const file = await fetchFile(`${API}/compliance/reports/${encodeURIComponent(framework)}?${query}`, "text/html", `${framework}-report.html`);
      saveFile(file);
      notify(`Downloaded ${file.name}. The report is audited.`, "info");
    } catch (err) {
      refused(ctx, err);
    }
  }

  $("review-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearNotice();
    once($("review-run"), runReview);
  });
  $("review-disable").addEventListener("submit", (event) => {
    event.preventDefault();
    clearNotice();
    once($("review-disable-submit"), disableChosen);
  });
  $("report-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearNotice();
    once($("report-show"), showReport);
  });
  $("report-download").addEventListener("click", () => {
    clearNotice();
    once($("report-download"), downloadReport);
  });

  return {
    view: "compliance-view",
    tab: "tab-compliance",
    needs: (permissions) => permissions.includes("compliance_manage"),
    enter: () => {},
    leave: () => {},
    reset: () => {
      state.review = null;
      for (const id of ["review-rows", "report-rows"]) $(id).replaceChildren();
      for (const id of ["review-table", "report-table", "review-disable"]) $(id).hidden = true;
      $("review-summary").textContent = "";
      $("report-summary").textContent = "";
    },
  };
}
