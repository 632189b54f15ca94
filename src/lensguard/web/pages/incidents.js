// Incidents (security_manage): the list, newest first, and one incident at a time with
// its notification clock, its playbook's steps in their order, the moves the flow
// allows, ownership, comments and the timeline (GET/POST /incidents/...). Every act
// lands in the incident's timeline and the audit chain, and acknowledges it. Evidence
// files are listed, downloaded (with the bearer header, from a blob: URL) and added
// (the file itself as the body; the server decides its type by content).

import { $, API, ApiError, api, apiPage, button, clearNotice, el, fetchFile, notify, once, saveFile, session } from "../core.js";
import { pagedTable, refused, row, utc } from "./table.js";

const STATES = {
  open: "Open",
  triaged: "Triaged",
  contained: "Contained",
  eradicated: "Eradicated",
  recovered: "Recovered",
  closed: "Closed",
  false_positive: "False positive",
};
const STEP_WORDS = { done: "Done", pending: "To do", blocked: "Waiting" };

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1048576) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

// The file as the request body; `application/octet-stream`, since a browser's type is
// only a guess from the name and the server reads the content anyway.
async function sendFile(incidentId, file) {
  const query = new URLSearchParams({ name: file.name });
  const response = await fetch(`${API}/incidents/${encodeURIComponent(incidentId)}/attachments?${query}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${session.token}`, Accept: "application/json", "Content-Type": "application/octet-stream" },
    body: file,
    credentials: "omit",
    cache: "no-store",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

function left(seconds) {
  const hours = Math.floor(Math.abs(seconds) / 3600);
  const minutes = Math.floor((Math.abs(seconds) % 3600) / 60);
  return `${hours} h ${minutes} min`;
}

// One timeline entry in words: what happened, by whom, and what it carried.
function entryText(entry) {
  const by = entry.actor ? ` by ${entry.actor}` : "";
  const body = entry.body || {};
  switch (entry.kind) {
    case "opened":
      return `Opened${by} (${body.by === "hand" ? "by hand" : "from a detection"})`;
    case "detection":
      return `Detection ${body.kind || ""}${body.address ? ` from ${body.address}` : ""}`.trim();
    case "state":
      return `Moved from ${STATES[body.from] || body.from} to ${STATES[body.to] || body.to}${by}${body.note ? `: ${body.note}` : ""}`;
    case "comment":
      return `Comment${by}: ${body.text}`;
    case "owner":
      return body.to ? `Owner set${by}` : `Owner removed${by}`;
    case "step":
      return `Step ${body.step}: ${body.status}${by}${body.why ? ` (${body.why})` : ""}${body.note ? `: ${body.note}` : ""}`;
    case "escalated":
      return `Escalated to ${body.level_name || `level ${body.level}`}`;
    case "attachment":
      return `Evidence file added${by} (${body.media_type}, SHA-256 ${String(body.sha256).slice(0, 16)}…)`;
    default:
      return `${entry.kind}${by}`;
  }
}

export function createIncidents(ctx) {
  const state = { open: null, names: new Map() };

  function query() {
    const chosen = $("incidents-state").value;
    const params = new URLSearchParams({ limit: "50" });
    if (chosen === "all") params.set("running", "false");
    else if (chosen) {
      params.set("state", chosen);
      params.set("running", "false");
    }
    return `${API}/incidents?${params}`;
  }

  function incidentRow(incident) {
    const view = button("Open", () => once(view, () => show(incident.id)));
    view.setAttribute("aria-label", `Open the incident ${incident.title}`);
    const tr = row(
      [utc(incident.opened_at), incident.severity, incident.title, STATES[incident.state] || incident.state, incident.detections, owner(incident.owner_id)],
      [view],
    );
    tr.dataset.incidentId = incident.id;
    tr.classList.add(`severity-${incident.severity}`);
    return tr;
  }

  const table = pagedTable(ctx, { rows: "incident-rows", more: "incidents-more", empty: "incidents-empty", query, build: incidentRow });
  const loadList = table.load;

  function owner(id) {
    if (!id) return "nobody";
    if (id === session.userId) return "you";
    return state.names.get(id) || id;
  }

  function stepItem(incident, step) {
    const item = el("li", undefined, `step ${step.status}`);
    item.dataset.step = step.id;
    const what = step.kind === "automatic" ? `${step.action} (the server does it)` : step.check || step.id;
    item.append(el("span", `${step.phase}: ${what}`), el("span", STEP_WORDS[step.status] || step.status, "step-status"));
    if (step.waiting_on.length) item.append(el("span", `after ${step.waiting_on.join(", ")}`, "muted"));
    if (step.last && step.last.why) item.append(el("span", step.last.why, "muted"));
    if (step.status === "pending") {
      const words = step.kind === "automatic" ? "Run" : "Mark done";
      const act = button(words, () =>
        once(act, async () => {
          clearNotice();
          let entry;
          try {
            entry = await api("POST", `/incidents/${encodeURIComponent(incident.id)}/steps/${encodeURIComponent(step.id)}`, {});
          } catch (err) {
            refused(ctx, err);
            return;
          }
          const done = entry.body.status === "done";
          notify(done ? `Step ${step.id} is done.` : `Step ${step.id} did not complete: ${entry.body.why || entry.body.status}.`, done ? "info" : "error");
          await show(incident.id);
        }),
      );
      act.setAttribute("aria-label", `${words}: ${step.id}`);
      item.append(act);
    }
    return item;
  }

  function fileItem(incident, file) {
    const item = el("li");
    item.dataset.attachmentId = file.id;
    const get = button("Download", () =>
      once(get, async () => {
        clearNotice();
        try {
          const url = `${API}/incidents/${encodeURIComponent(incident.id)}/attachments/${encodeURIComponent(file.id)}`;
          saveFile(await fetchFile(url, file.media_type, file.name));
        } catch (err) {
          refused(ctx, err);
        }
      }),
    );
    get.setAttribute("aria-label", `Download ${file.name}`);
    item.append(
      el("span", file.name, "file-name"),
      el("span", `${file.media_type} · ${size(file.size)} · added ${utc(file.added_at)} UTC`, "muted"),
      el("code", `SHA-256 ${file.sha256}`, "digest"),
      get,
    );
    return item;
  }

  function renderFiles(incident, files) {
    $("incident-files").replaceChildren(...files.map((f) => fileItem(incident, f)));
    $("incident-files-empty").hidden = files.length > 0;
  }

  function render(incident, timeline) {
    $("incident").hidden = false;
    $("incident-title").textContent = `${incident.title} (${incident.severity})`;
    const source = [incident.address, incident.principal].filter(Boolean).join(", ");
    $("incident-meta").textContent =
      `${STATES[incident.state] || incident.state} · ${incident.kind} · opened ${utc(incident.opened_at)} UTC` +
      `${source ? ` · ${source}` : ""} · owner: ${owner(incident.owner_id)} · ${incident.detections} detection(s)` +
      `${incident.acknowledged_at ? "" : " · not yet acknowledged"}`;
    const clock = incident.notification;
    $("incident-clock").hidden = !clock;
    if (clock) {
      $("incident-clock").textContent = clock.overdue
        ? `The notification deadline passed ${left(clock.seconds_left)} ago (${utc(clock.deadline)} UTC).`
        : `Notify the authority within ${left(clock.seconds_left)} (by ${utc(clock.deadline)} UTC).`;
      $("incident-clock").classList.toggle("bad", clock.overdue);
    }
    $("incident-own").hidden = incident.owner_id === session.userId;
    const next = $("incident-next");
    const order = Object.keys(STATES);
    const states = [...incident.next_states].sort((a, b) => order.indexOf(a) - order.indexOf(b));
    next.replaceChildren(
      ...states.map((s) => {
        const option = el("option", STATES[s] || s);
        option.value = s;
        return option;
      }),
    );
    $("incident-move").hidden = incident.next_states.length === 0;
    $("incident-steps").replaceChildren(...incident.steps.map((s) => stepItem(incident, s)));
    $("incident-timeline").replaceChildren(
      ...timeline.map((entry) => {
        const item = el("li");
        const actor = entry.actor && state.names.get(entry.actor);
        item.append(el("time", `${utc(entry.at)}`), el("span", entryText(actor ? { ...entry, actor } : entry)));
        return item;
      }),
    );
  }

  async function show(id) {
    const epoch = session.epoch;
    let incident;
    let timeline;
    let files;
    try {
      incident = await api("GET", `/incidents/${encodeURIComponent(id)}`);
      timeline = (await apiPage(`${API}/incidents/${encodeURIComponent(id)}/timeline?limit=200`)).items;
      files = await api("GET", `/incidents/${encodeURIComponent(id)}/attachments`);
    } catch (err) {
      if (epoch === session.epoch) refused(ctx, err);
      return;
    }
    if (epoch !== session.epoch) return;
    state.open = incident;
    render(incident, timeline);
    renderFiles(incident, files);
  }

  // An act on the open incident, then the incident and the list again; true when done
  // (a refused form keeps what was typed).
  async function act(control, method, path, body, done) {
    const incident = state.open;
    let acted = false;
    if (!incident) return acted;
    await once(control, async () => {
      clearNotice();
      try {
        await api(method, `/incidents/${encodeURIComponent(incident.id)}${path}`, body);
      } catch (err) {
        refused(ctx, err);
        return;
      }
      acted = true;
      if (done) notify(done, "info");
      await show(incident.id);
      await loadList(true);
    });
    return acted;
  }

  $("incidents-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearNotice();
    once($("incidents-show"), () => loadList(true));
  });
  $("incidents-more").addEventListener("click", () => once($("incidents-more"), () => loadList(false)));
  $("incident-own").addEventListener("click", () =>
    act($("incident-own"), "PUT", "/owner", { user_id: "me" }, "You own this incident."),
  );
  $("incident-move").addEventListener("submit", (event) => {
    event.preventDefault();
    const to = $("incident-next").value;
    act($("incident-move-submit"), "POST", "/state", { state: to, note: $("incident-note").value }, `Moved to ${STATES[to] || to}.`).then(
      (acted) => acted && ($("incident-note").value = ""),
    );
  });
  $("incident-comment").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("incident-comment-text").value;
    act($("incident-comment-submit"), "POST", "/comments", { text }, "Comment added.").then(
      (acted) => acted && ($("incident-comment-text").value = ""),
    );
  });

  $("incident-upload").addEventListener("submit", (event) => {
    event.preventDefault();
    const incident = state.open;
    const file = $("incident-file").files[0];
    if (!incident || !file) return;
    once($("incident-upload-submit"), async () => {
      clearNotice();
      $("incident-upload-status").textContent = `Uploading ${file.name} (${size(file.size)})…`;
      try {
        const kept = await sendFile(incident.id, file);
        notify(`${kept.name} is kept with the incident (${kept.media_type}).`, "info");
        $("incident-file").value = "";
      } catch (err) {
        refused(ctx, err);
        return;
      } finally {
        $("incident-upload-status").textContent = "";
      }
      await show(incident.id);
    });
  });

  return {
    view: "incidents-view",
    tab: "tab-incidents",
    needs: (permissions) => permissions.includes("security_manage"),
    enter: async () => {
      if (session.permissions.includes("user_management")) {
        try {
          state.names = new Map((await ctx.listAll(`${API}/users?limit=200`)).map((u) => [u.id, u.username]));
        } catch (err) {
          // Owners then show by id.
        }
      }
      await loadList(true);
      if (state.open) await show(state.open.id);
    },
    leave: () => {},
    reset: () => {
      table.reset();
      state.open = null;
      state.names = new Map();
      $("incident").hidden = true;
      $("incident-files").replaceChildren();
      $("incident-file").value = "";
    },
  };
}
