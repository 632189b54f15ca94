// Policies (device_manage): a site's stream policy (GET/PUT /sites/{site}/policy), the
// floor its devices cannot lower, and one device's stream settings (GET/PUT
// /streams/{id}) with what is in effect once both are combined. The processors offered
// come from GET /processors; the server validates everything and audits each change.

import { $, API, api, apiAll, clearNotice, el, notify, once, session } from "../core.js";
import { refused } from "./table.js";

const MODES = { off: "off", continuous: "continuous", on_event: "on event", on_demand: "on demand" };

function models(id) {
  return $(id)
    .value.split(",")
    .map((name) => name.trim())
    .filter(Boolean);
}

// A number field's value, or null when empty (the server's default then applies).
function seconds(id) {
  const text = $(id).value.trim();
  return text === "" ? null : Number(text);
}

function fill(prefix, policy) {
  $(`${prefix}-redact`).checked = policy.redact_faces;
  $(`${prefix}-models`).value = policy.ai_models.join(", ");
  $(`${prefix}-mode`).value = policy.recording.mode;
  $(`${prefix}-pre`).value = policy.recording.pre_roll_seconds ?? "";
  $(`${prefix}-post`).value = policy.recording.post_roll_seconds ?? "";
}

function options(select, items, chosen) {
  select.replaceChildren(
    ...items.map(([value, text]) => {
      const option = el("option", text);
      option.value = value;
      return option;
    }),
  );
  if (items.some(([value]) => value === chosen)) select.value = chosen;
}

function effectiveText(effective) {
  if (!effective) return "";
  const from = (where) => (where ? ` (from the ${where})` : "");
  const parts = [
    effective.redact_faces ? `faces redacted${from(effective.redaction_from)}` : "faces not redacted",
    effective.ai_models.length ? `processors ${effective.ai_models.join(" → ")}` : "no processors",
  ];
  const rec = effective.recording;
  if (rec) {
    parts.push(
      rec.mode === "off"
        ? "not recorded"
        : `recorded ${MODES[rec.mode]}${from(rec.mode_from)}${rec.record_raw ? ", raw feed too" : ""}`,
    );
  }
  return `In effect: ${parts.join("; ")}.`;
}

export function createPolicies(ctx) {
  // Loads are numbered: only the newest one fills a form, so an answer that arrives late
  // (the page's first load, after the user picked another site or device) never
  // overwrites the choice or what was typed since.
  const state = { devices: [], stream: null, siteLoads: 0, streamLoads: 0 };

  async function loadSite() {
    const site = $("site-policy-site").value;
    if (!site) return;
    const epoch = session.epoch;
    const load = ++state.siteLoads;
    $("site-policy-form").setAttribute("aria-busy", "true");
    let policy;
    try {
      policy = await api("GET", `/sites/${encodeURIComponent(site)}/policy`);
    } catch (err) {
      if (epoch === session.epoch && load === state.siteLoads) refused(ctx, err);
      return;
    } finally {
      if (load === state.siteLoads) $("site-policy-form").setAttribute("aria-busy", "false");
    }
    if (epoch !== session.epoch || load !== state.siteLoads) return;
    fill("site-policy", policy);
    $("site-policy-raw").checked = policy.recording.record_raw;
    $("site-policy-covers").textContent = `Covers ${policy.devices} device${policy.devices === 1 ? "" : "s"}.`;
  }

  async function loadStream() {
    const id = $("stream-device").value;
    if (!id) return;
    const epoch = session.epoch;
    const load = ++state.streamLoads;
    $("stream-form").setAttribute("aria-busy", "true");
    let stream;
    try {
      stream = await api("GET", `/streams/${encodeURIComponent(id)}`);
    } catch (err) {
      if (epoch === session.epoch && load === state.streamLoads) refused(ctx, err);
      return;
    } finally {
      if (load === state.streamLoads) $("stream-form").setAttribute("aria-busy", "false");
    }
    if (epoch !== session.epoch || load !== state.streamLoads) return;
    state.stream = stream;
    fill("stream", stream);
    $("stream-effective").textContent = effectiveText(stream.effective);
  }

  async function enter() {
    const epoch = session.epoch;
    let devices;
    let processors;
    try {
      devices = await apiAll(`${API}/devices?limit=200`);
      processors = await api("GET", "/processors");
    } catch (err) {
      if (epoch === session.epoch) refused(ctx, err);
      return;
    }
    if (epoch !== session.epoch) return;
    state.devices = devices;
    $("policies-processors").textContent =
      `Processors: ${processors.names.join(", ")} (at most ${processors.max_models} per stream; ` +
      "face_detect then pixelate_faces redacts, as the redaction switch does).";
    const sites = [...new Set(devices.map((d) => d.site))].sort();
    options($("site-policy-site"), sites.map((s) => [s, s]), $("site-policy-site").value);
    options($("stream-device"), devices.map((d) => [d.id, `${d.name} (${d.site})`]), $("stream-device").value);
    await loadSite();
    await loadStream();
  }

  async function saveSite() {
    const site = $("site-policy-site").value;
    const body = {
      redact_faces: $("site-policy-redact").checked,
      ai_models: models("site-policy-models"),
      recording: {
        mode: $("site-policy-mode").value,
        pre_roll_seconds: seconds("site-policy-pre"),
        post_roll_seconds: seconds("site-policy-post"),
        record_raw: $("site-policy-raw").checked,
      },
    };
    try {
      await api("PUT", `/sites/${encodeURIComponent(site)}/policy`, body);
    } catch (err) {
      refused(ctx, err);
      return;
    }
    notify(`The policy of site ${site} is saved; its devices follow it from the next frame.`, "info");
    await loadSite();
    await loadStream();
  }

  async function saveStream() {
    const current = state.stream;
    if (!current) return;
    // PUT replaces the whole settings: what this form does not show is sent back as read.
    const body = {
      name: current.name,
      resolution: current.resolution,
      bitrate: current.bitrate,
      redact_faces: $("stream-redact").checked,
      ai_models: models("stream-models"),
      recording: {
        mode: $("stream-mode").value,
        pre_roll_seconds: seconds("stream-pre"),
        post_roll_seconds: seconds("stream-post"),
        segment_seconds: current.recording.segment_seconds,
      },
    };
    let saved;
    try {
      saved = await api("PUT", `/streams/${encodeURIComponent(current.device_id)}`, body);
    } catch (err) {
      refused(ctx, err);
      return;
    }
    state.stream = saved;
    notify("The device's stream settings are saved.", "info");
    await loadStream();
  }

  $("site-policy-site").addEventListener("change", () => {
    clearNotice();
    loadSite();
  });
  $("stream-device").addEventListener("change", () => {
    clearNotice();
    loadStream();
  });
  $("site-policy-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearNotice();
    once($("site-policy-save"), saveSite);
  });
  $("stream-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearNotice();
    once($("stream-save"), saveStream);
  });

  return {
    view: "policies-view",
    tab: "tab-policies",
    needs: (permissions) => permissions.includes("device_manage"),
    enter,
    leave: () => {},
    reset: () => {
      state.devices = [];
      state.stream = null;
      state.siteLoads += 1;
      state.streamLoads += 1;
      $("site-policy-site").replaceChildren();
      $("stream-device").replaceChildren();
      $("stream-effective").textContent = "";
      $("site-policy-covers").textContent = "";
    },
  };
}
