// "Download range": one WebM of a time range of the chosen day (recording_export),
// fetched with the bearer header (a plain link would need the token in its URL) and
// handed to the browser from a blob: URL. The server audits every download.

import { fetchFile, saveFile } from "./core.js";
import { clock } from "./timeline.js";

const $ = (id) => document.getElementById(id);
const iso = (ms) => new Date(ms).toISOString();

export async function download(event, ctx, { device, day, words }) {
  event.preventDefault();
  ctx.clearNotice();
  const epoch = ctx.session.epoch;
  if (!device) return;
  const start = Date.parse(`${iso(day).slice(0, 10)}T${$("rec-dl-start").value}Z`);
  const end = Date.parse(`${iso(day).slice(0, 10)}T${$("rec-dl-end").value}Z`);
  if (Number.isNaN(start) || Number.isNaN(end) || end <= start) {
    ctx.notify("The end of the range must come after its start.");
    return;
  }
  const button = $("rec-dl-submit");
  button.disabled = true;
  $("rec-dl-status").textContent = "Preparing the file…";
  try {
    const query = new URLSearchParams({ device_id: device.id, start: iso(start), end: iso(end) });
    const file = await fetchFile(`${ctx.API}/recordings/download?${query}`, "video/webm", `${device.name}-${clock(start)}.webm`);
    if (epoch !== ctx.session.epoch) return;
    saveFile(file);
    $("rec-dl-status").textContent = `Downloaded ${file.name} (${(file.blob.size / 1e6).toFixed(1)} MB). The download is audited.`;
  } catch (err) {
    if (epoch !== ctx.session.epoch) return;
    $("rec-dl-status").textContent = "";
    if (err instanceof ctx.ApiError && err.status === 404) ctx.notify("Nothing recorded in that range is within your access.");
    else ctx.notify(err instanceof ctx.ApiError ? words(err) : ctx.plainError(err));
  } finally {
    button.disabled = false;
  }
}

