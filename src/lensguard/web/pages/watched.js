// "Who watched what": every viewing, seek, download and export of recordings, from the
// audit log (GET /recordings/access, audit_read). The day filters select which footage
// was watched (the recorded range), not when; every row says when. Times are UTC.

const $ = (id) => document.getElementById(id);
const iso = (ms) => new Date(ms).toISOString();
const WORDS = { viewed: "Watched", seeked: "Seeked", downloaded: "Downloaded", exported: "Exported" };

function when(value) {
  return value ? `${value.slice(0, 10)} ${value.slice(11, 19)}` : "";
}

function actorName(actor) {
  if (!actor || typeof actor !== "object") return actor || "";
  return actor.name || (actor.id ? `${actor.type || "user"} ${actor.id} (name erased)` : actor.type || "");
}

export function createAccessLog(ctx) {
  const state = { devices: new Map(), next: null };

  async function enter() {
    const epoch = ctx.session.epoch;
    let devices = [];
    try {
      devices = await ctx.listAll(`${ctx.API}/devices?limit=200`);
    } catch (err) {
      // The table still loads; devices then show by id.
    }
    if (epoch !== ctx.session.epoch) return;
    state.devices = new Map(devices.map((d) => [d.id, d.name]));
    const select = $("access-device");
    const chosen = select.value;
    const any = document.createElement("option");
    any.value = "";
    any.textContent = "Any device";
    select.replaceChildren(any);
    for (const device of devices) {
      const option = document.createElement("option");
      option.value = device.id;
      option.textContent = device.name;
      select.append(option);
    }
    select.value = state.devices.has(chosen) ? chosen : "";
    await load(true);
  }

  function query() {
    const params = new URLSearchParams({ limit: "50" });
    if ($("access-device").value) params.set("device_id", $("access-device").value);
    const from = Date.parse(`${$("access-from").value}T00:00:00Z`);
    const to = Date.parse(`${$("access-to").value}T00:00:00Z`);
    if (!Number.isNaN(from)) params.set("start", iso(from));
    if (!Number.isNaN(to)) params.set("end", iso(to + 86_400_000));
    return `${ctx.API}/recordings/access?${params}`;
  }

  async function load(fresh) {
    const epoch = ctx.session.epoch;
    const url = fresh ? query() : state.next;
    if (!url) return;
    $("access-more").disabled = true;
    let page;
    try {
      page = await ctx.page(url);
    } catch (err) {
      if (epoch === ctx.session.epoch) ctx.failed(err);
      return;
    } finally {
      $("access-more").disabled = false;
    }
    if (epoch !== ctx.session.epoch) return;
    const body = $("access-rows");
    if (fresh) body.replaceChildren();
    for (const item of page.items) {
      const row = document.createElement("tr");
      const cells = [
        when(item.at),
        actorName(item.actor),
        WORDS[item.action] || item.action,
        state.devices.get(item.device_id) || item.device_id,
        when(item.start),
        when(item.end),
      ];
      for (const text of cells) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      body.append(row);
    }
    state.next = page.next;
    $("access-more").hidden = !page.next;
    $("access-empty").hidden = body.children.length > 0;
  }

  function reset() {
    state.devices = new Map();
    state.next = null;
    $("access-rows").replaceChildren();
    $("access-device").replaceChildren();
    $("access-more").hidden = true;
  }

  $("access-form").addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.clearNotice();
    load(true);
  });
  $("access-more").addEventListener("click", () => load(false));

  return {
    view: "access-view",
    tab: "tab-access",
    needs: (permissions) => permissions.includes("audit_read"),
    enter,
    leave: () => {},
    reset,
  };
}
