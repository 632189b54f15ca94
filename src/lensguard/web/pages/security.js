// Security (security_manage): the dashboard of GET /security/dashboard — failed
// sign-ins, denials, blocks, detections and alerts per bucket, counted on the server
// from the audit log and incidents, drawn here as SVG bars (nothing loaded from
// elsewhere) — its top sources, and the blocklist with block and unblock.

import { $, API, api, apiAll, button, clearNotice, el, notify, once, session } from "../core.js";
import { refused, row, utc } from "./table.js";

const SVG = "http://www.w3.org/2000/svg";
const NAMES = {
  failed_logins: "Failed sign-ins",
  denials: "Denials",
  blocks: "Blocks",
  detections: "Detections",
  alerts: "Incidents opened",
};
const WIDTH = 240;
const HEIGHT = 60;
const BLOCK_SECONDS = 3600;

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

function span(seconds) {
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  return `${Math.round(seconds / 60)} min`;
}

// One series as bars, one per bucket; the figure's label says what a reader needs
// without seeing it (total, the busiest bucket), and each bar has its own title.
function chart(name, body) {
  const counts = body.buckets.map((b) => b.counts[name]);
  const most = Math.max(...counts);
  const figure = el("figure", undefined, "chart");
  figure.dataset.series = name;
  const label = `${NAMES[name]}: ${body.totals[name]} in the period` +
    (most ? `, at most ${most} in a ${span(body.bucket_seconds)} bar` : "");
  const drawing = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label, class: `bars ${name}` });
  const slot = WIDTH / counts.length;
  counts.forEach((count, i) => {
    const height = most ? Math.max(1, (count / most) * (HEIGHT - 2)) : 0;
    const bar = svg("rect", { x: i * slot + 1, y: HEIGHT - height, width: slot - 2, height, class: "bar" });
    const title = svg("title", {});
    title.textContent = `${utc(body.buckets[i].start)}: ${count}`;
    bar.append(title);
    drawing.append(bar);
  });
  drawing.append(svg("line", { x1: 0, y1: HEIGHT - 0.5, x2: WIDTH, y2: HEIGHT - 0.5, class: "axis" }));
  figure.append(drawing, el("figcaption", label));
  return figure;
}

export function createSecurity(ctx) {
  async function block(address) {
    await api("POST", "/security/blocklist", {
      address,
      ttl_seconds: BLOCK_SECONDS,
      reason: "blocked from the security dashboard",
    });
    notify(`${address} is blocked for an hour.`, "info");
  }

  function sourceRow(source, blocked) {
    const controls = [];
    if (!blocked.has(source.address)) {
      const stop = button("Block for an hour", () =>
        once(stop, async () => {
          clearNotice();
          try {
            await block(source.address);
          } catch (err) {
            refused(ctx, err);
            return;
          }
          await load();
        }),
      );
      stop.setAttribute("aria-label", `Block ${source.address} for an hour`);
      controls.push(stop);
    }
    const counts = source.counts;
    return row(
      [source.address, counts.failed_logins || 0, counts.denials || 0, counts.detections || 0, source.total],
      controls,
    );
  }

  function blockRow(entry) {
    const lift = button("Unblock", () =>
      once(lift, async () => {
        clearNotice();
        try {
          await api("DELETE", `/security/blocklist/${encodeURIComponent(entry.address)}`);
        } catch (err) {
          refused(ctx, err);
          return;
        }
        notify(`${entry.address} is no longer blocked.`, "info");
        await load();
      }),
    );
    lift.setAttribute("aria-label", `Unblock ${entry.address}`);
    return row([entry.address, entry.reason, utc(entry.created_at), entry.expires_at ? utc(entry.expires_at) : "until removed"], [lift]);
  }

  async function load() {
    const epoch = session.epoch;
    let body;
    let blocks;
    try {
      body = await api("GET", `/security/dashboard?hours=${encodeURIComponent($("security-hours").value)}`);
      blocks = await apiAll(`${API}/security/blocklist?limit=200`);
    } catch (err) {
      if (epoch === session.epoch) refused(ctx, err);
      return;
    }
    if (epoch !== session.epoch) return;
    $("security-period").textContent =
      `${utc(body.since)} to ${utc(body.until)} UTC, in bars of ${span(body.bucket_seconds)}. ` +
      `${body.open_incidents} incident${body.open_incidents === 1 ? "" : "s"} still open.`;
    $("security-truncated").hidden = !body.truncated;
    $("security-totals").replaceChildren(
      ...body.series.map((name) => {
        const tile = el("li", undefined, `tile ${name}`);
        tile.append(el("span", body.totals[name], "figure"), el("span", NAMES[name] || name, "muted"));
        return tile;
      }),
    );
    $("security-charts").replaceChildren(...body.series.map((name) => chart(name, body)));
    const blocked = new Set(blocks.map((b) => b.address));
    $("security-sources").replaceChildren(...body.top_sources.map((s) => sourceRow(s, blocked)));
    $("security-sources-empty").hidden = body.top_sources.length > 0;
    $("security-blocks").replaceChildren(...blocks.map(blockRow));
    $("security-blocks-empty").hidden = blocks.length > 0;
  }

  $("security-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearNotice();
    once($("security-refresh"), load);
  });

  return {
    view: "security-view",
    tab: "tab-security",
    needs: (permissions) => permissions.includes("security_manage"),
    enter: load,
    leave: () => {},
    reset: () => {
      for (const id of ["security-totals", "security-charts", "security-sources", "security-blocks"]) {
        $(id).replaceChildren();
      }
      $("security-period").textContent = "";
    },
  };
}
