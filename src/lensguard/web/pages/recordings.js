// The Recordings view: a device and a day, the recorded ranges on a timeline, playback
// through MSE (player.js) and the download of a range. Times are UTC throughout.

import { PlaybackError, SegmentPlayer } from "../player.js";
import { download } from "../download.js";
import { Timeline, clock, DAY_MS } from "../timeline.js";

const STREAM = "processed";
const SEGMENT_PAGE = 50;
const KEY_SEEK_DELAY_MS = 350; // arrow keys: one audited seek once the key rests

const $ = (id) => document.getElementById(id);
const iso = (ms) => new Date(ms).toISOString();

// The segments of the day's playback in time order; more are asked for as playback reaches them.
class Catalogue {
  constructor(fetchAfter) {
    this.fetchAfter = fetchAfter; // (wall ms) -> Promise<segments starting at or after it>
    this.items = [];
    this.complete = false;
  }

  add(segments) {
    const known = new Set(this.items.map((s) => s.id));
    const fresh = segments.filter((s) => !known.has(s.id));
    this.items.push(...fresh);
    this.items.sort((a, b) => Date.parse(a.start) - Date.parse(b.start) || a.seq - b.seq);
    return fresh.length;
  }

  holding(at) {
    return this.items.find((s) => Date.parse(s.start) <= at && at < Date.parse(s.end)) || null;
  }

  async next(segment) {
    let index = this.items.findIndex((s) => s.id === segment.id);
    if (index >= 0 && index + 1 < this.items.length) return this.items[index + 1];
    if (this.complete) return null;
    if (this.add(await this.fetchAfter(Date.parse(segment.end))) === 0) this.complete = true;
    index = this.items.findIndex((s) => s.id === segment.id);
    return index + 1 < this.items.length ? this.items[index + 1] : null;
  }
}

export function createRecordings(ctx) {
  const state = {
    devices: [],
    device: null,
    day: null, // UTC midnight, ms
    ranges: [],
    playback: null,
    catalogue: null,
    keySeek: null,
    seeks: 0, // the latest seek: an older one finishing later says nothing
  };
  const video = $("rec-video");
  const timeline = new Timeline($("rec-timeline"), {
    onSeek: (at) => seekTo(at, true),
    onPreview: (at) => showTime(at),
  });
  const player = new SegmentPlayer(video, {
    load: loadSegment,
    next: (segment) => state.catalogue.next(segment),
    onError: playbackFailed,
    onTime: (wall) => {
      timeline.setPlayhead(wall);
      showTime(wall);
    },
    onEnd: () => {
      setPlaying(false);
      status("End of the recordings for this day.");
    },
  });

  function status(text) {
    $("rec-status").textContent = text;
  }

  function showTime(wall) {
    $("rec-time").textContent = wall === null ? "--:--:--" : `${clock(wall)} UTC`;
  }

  function setPlaying(playing) {
    $("rec-play").textContent = playing ? "Pause" : "Play";
    $("rec-play").setAttribute("aria-label", playing ? "Pause" : "Play");
  }

  function current(epoch) {
    return epoch === ctx.session.epoch;
  }

  // ------------------------------------------------------------ choosing what to show

  async function enter() {
    const epoch = ctx.session.epoch;
    $("rec-download").hidden = !ctx.session.permissions.includes("recording_export");
    if (!$("rec-day").value) $("rec-day").value = iso(Date.now()).slice(0, 10);
    let devices;
    let shared = [];
    try {
      devices = await ctx.listAll(`${ctx.API}/devices?limit=200`);
      // Ranges shared with you by a grant: often of devices outside your own scope.
      shared = await ctx.listAll(`${ctx.API}/recordings/shared?limit=200`).catch(() => []);
    } catch (err) {
      if (current(epoch)) ctx.failed(err);
      return;
    }
    if (!current(epoch)) return;
    const known = new Set(devices.map((d) => d.id));
    for (const grant of shared) {
      if (known.has(grant.device_id)) continue;
      known.add(grant.device_id);
      devices.push({ id: grant.device_id, name: grant.device_name, site: grant.site, shared: grant });
    }
    state.devices = devices;
    const select = $("rec-device");
    const chosen = select.value;
    select.replaceChildren();
    for (const device of devices) {
      const option = document.createElement("option");
      option.value = device.id;
      option.textContent = device.shared
        ? `${device.name} (${device.site}), shared with you until ${device.shared.expires_at.slice(0, 16).replace("T", " ")} UTC`
        : `${device.name} (${device.site})`;
      select.append(option);
    }
    if (chosen && devices.some((d) => d.id === chosen)) select.value = chosen;
    $("rec-empty").hidden = devices.length > 0;
    onDevice();
  }

  // A shared range opens on its own first day.
  function onDevice() {
    const device = state.devices.find((d) => d.id === $("rec-device").value);
    if (device && device.shared) $("rec-day").value = device.shared.start.slice(0, 10);
  }

  async function onShow(event) {
    event.preventDefault();
    ctx.clearNotice();
    const epoch = ctx.session.epoch;
    const device = state.devices.find((d) => d.id === $("rec-device").value);
    const day = Date.parse(`${$("rec-day").value}T00:00:00Z`);
    if (!device || Number.isNaN(day)) return;
    stop();
    state.device = device;
    state.day = day;
    status("Loading the timeline…");
    const query = new URLSearchParams({ device_id: device.id, start: iso(day), end: iso(day + DAY_MS), stream: STREAM });
    let answer;
    try {
      answer = await ctx.api("GET", `/recordings/timeline?${query}`);
    } catch (err) {
      if (!current(epoch)) return;
      status("");
      ctx.failed(err, "No recordings of that device are within your access.");
      return;
    }
    if (!current(epoch) || state.device !== device) return;
    state.ranges = answer.ranges.map((r) => ({ start: Date.parse(r.start), end: Date.parse(r.end) }));
    timeline.show(day, state.ranges);
    listRanges();
    const total = state.ranges.reduce((sum, r) => sum + (r.end - r.start), 0);
    $("rec-player").hidden = state.ranges.length === 0;
    status(
      state.ranges.length
        ? `${state.ranges.length} recorded range${state.ranges.length === 1 ? "" : "s"}, ${Math.round(total / 1000)} s in all.`
        : "Nothing was recorded on this day.",
    );
    if (state.ranges.length) {
      $("rec-dl-start").value = clock(state.ranges[0].start);
      $("rec-dl-end").value = clock(state.ranges[state.ranges.length - 1].end);
    }
  }

  function listRanges() {
    const list = $("rec-ranges-list");
    list.replaceChildren();
    for (const range of state.ranges.slice(0, 100)) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary small";
      button.textContent = `${clock(range.start)}–${clock(range.end)}`;
      button.setAttribute("aria-label", `Play from ${clock(range.start)} UTC`);
      button.addEventListener("click", () => seekTo(range.start, true, true));
      item.append(button);
      list.append(item);
    }
  }

  // ------------------------------------------------------------ playing

  async function ensurePlayback(epoch) {
    const open = state.playback;
    if (open && Date.parse(open.expires_at) > Date.now()) return open;
    const body = { device_id: state.device.id, start: iso(state.day), end: iso(state.day + DAY_MS), stream: STREAM };
    const playback = await ctx.api("POST", "/recordings/playbacks", body);
    if (!current(epoch)) return null;
    const device = state.device;
    state.playback = playback;
    state.catalogue = new Catalogue(async (after) => {
      const query = new URLSearchParams({
        device_id: device.id,
        start: iso(after),
        end: iso(state.day + DAY_MS),
        stream: STREAM,
        limit: String(SEGMENT_PAGE),
      });
      return (await ctx.page(`${ctx.API}/recordings/segments?${query}`)).items;
    });
    state.catalogue.add(playback.segments || []);
    state.catalogue.complete = playback.more_segments === false; // else ask as playback goes on
    return playback;
  }

  // The recorded moment at or after `at`: a click in a gap plays what comes next.
  function snap(at) {
    for (const range of state.ranges) {
      if (at < range.end) return Math.max(at, range.start);
    }
    return null;
  }

  async function seekTo(wanted, byUser, andPlay = false) {
    if (!state.device || !state.ranges.length) return;
    const epoch = ctx.session.epoch;
    const mine = ++state.seeks;
    const latest = () => current(epoch) && mine === state.seeks;
    const at = snap(wanted);
    if (at === null) {
      ctx.notify(`Nothing was recorded after ${clock(wanted)} UTC on this day.`, "info");
      return;
    }
    ctx.clearNotice();
    timeline.setPlayhead(at);
    showTime(at);
    status("Loading…");
    try {
      const playback = await ensurePlayback(epoch);
      if (!playback || !latest()) return;
      let segment = byUser ? null : state.catalogue.holding(at);
      if (!segment) {
        // Every seek a person makes is audited by the server; it names the segment to fetch.
        const answer = await ctx.api("POST", `/recordings/playbacks/${encodeURIComponent(playback.id)}/seeks`, { at: iso(at) });
        if (!latest()) return;
        segment = answer.segment;
        state.catalogue.add([segment]);
      }
      if (andPlay) player.wantPlay = true;
      await player.seek(at, segment);
      if (latest()) status(player.wantPlay ? "Playing." : "Paused.");
    } catch (err) {
      if (latest()) playbackFailed(err);
    }
  }

  async function loadSegment(segment, signal) {
    const playback = state.playback;
    if (!playback) throw new PlaybackError("ended");
    const url = `${ctx.API}/recordings/playbacks/${encodeURIComponent(playback.id)}/segments/${encodeURIComponent(segment.id)}`;
    const response = await fetch(url, {
      headers: { Authorization: `Bearer ${ctx.session.token}`, Accept: "video/webm" },
      credentials: "omit",
      cache: "no-store",
      signal,
    });
    if (!response.ok) throw new ctx.ApiError(response.status, await response.json().catch(() => ({})));
    try {
      return await response.arrayBuffer();
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new PlaybackError("truncated", err); // the server stopped mid-body: never play a part
    }
  }

  function playbackFailed(err) {
    setPlaying(false);
    status("Stopped.");
    if (err instanceof ctx.ApiError && err.status === 401) {
      ctx.signedOut("Your session has ended. Sign in again.");
      return;
    }
    state.seeks += 1; // a seek still under way must not report over this
    if (err instanceof ctx.ApiError && err.status === 404) {
      // Access ended: nothing of it stays on screen or buffered; Play asks again.
      player.reset();
      state.playback = null;
    } else {
      player.pause();
    }
    ctx.notify(playbackWords(err));
  }

  function playbackWords(err) {
    if (err instanceof PlaybackError) {
      return {
        decode: "Your browser could not decode this recording.",
        truncated: "A segment arrived incomplete and was not played. It may have failed its integrity check; try again.",
        ended: "This viewing session has ended. Press Play to start a new one.",
      }[err.kind] || `Playback failed: ${err.message}`;
    }
    if (!(err instanceof ctx.ApiError)) return "The server could not be reached. Check your connection.";
    if (err.slug.includes("integrity")) {
      return "This part of the recording failed its integrity check (it was changed or damaged after it was written), so it is not shown. The problem has been reported.";
    }
    switch (err.status) {
      case 404:
        return "Playback stopped: this recording is not available to you any more. The viewing session or the grant behind it has expired or was withdrawn.";
      case 410:
        return "This part of the recording has been deleted (retention or erasure) and cannot be played.";
      case 503:
        return "The key for this recording is not available on this server right now. Try again in a moment.";
      default:
        return ctx.plainError(err);
    }
  }

  async function onPlay() {
    if (!video.paused && player.wantPlay) {
      player.pause();
      setPlaying(false);
      status("Paused.");
      return;
    }
    setPlaying(true);
    if (!player.loaded || !state.playback) {
      const at = player.wallTime() ?? timeline.playhead ?? state.ranges[0]?.start;
      if (at === undefined) return;
      await seekTo(at, false, true);
    } else {
      await player.play();
      status("Playing.");
    }
  }

  function onSpeed() {
    player.setRate(Number($("rec-speed").value));
  }

  function onTimelineKey(event) {
    const steps = { ArrowLeft: -5000, ArrowRight: 5000, PageDown: -60000, PageUp: 60000 };
    let at = null;
    const from = timeline.playhead ?? state.ranges[0]?.start;
    if (from === undefined) return;
    if (event.key in steps) at = from + steps[event.key] * (event.shiftKey ? 6 : 1);
    else if (event.key === "Home") at = state.ranges[0].start;
    else if (event.key === "End") at = state.ranges[state.ranges.length - 1].end - 1000;
    else if (event.key === " " || event.key === "k") {
      event.preventDefault();
      onPlay();
      return;
    } else return;
    event.preventDefault();
    at = Math.min(Math.max(at, state.day), state.day + DAY_MS - 1);
    timeline.setPlayhead(at);
    showTime(at);
    clearTimeout(state.keySeek);
    state.keySeek = setTimeout(() => seekTo(at, true), KEY_SEEK_DELAY_MS);
  }

  // ------------------------------------------------------------ lifecycle

  function stop() {
    clearTimeout(state.keySeek);
    player.reset();
    setPlaying(false);
    state.playback = null;
    state.catalogue = null;
    showTime(null);
  }

  // Sign-out: forget the device list, the timeline and anything buffered.
  function reset() {
    stop();
    state.devices = [];
    state.device = null;
    state.ranges = [];
    timeline.show(null, []);
    $("rec-device").replaceChildren();
    $("rec-ranges-list").replaceChildren();
    $("rec-player").hidden = true;
    $("rec-dl-status").textContent = "";
    status("");
  }

  $("rec-form").addEventListener("submit", onShow);
  $("rec-device").addEventListener("change", onDevice);
  $("rec-play").addEventListener("click", onPlay);
  $("rec-speed").addEventListener("change", onSpeed);
  $("rec-timeline").addEventListener("keydown", onTimelineKey);
  $("rec-download-form").addEventListener("submit", (event) =>
    download(event, ctx, { device: state.device, day: state.day, words: playbackWords }),
  );
  video.addEventListener("pause", () => setPlaying(false));
  video.addEventListener("playing", () => setPlaying(true));
  if (!SegmentPlayer.supported()) $("rec-unsupported").hidden = false;

  return {
    view: "recordings-view",
    tab: "tab-recordings",
    needs: (permissions) => permissions.includes("recording_view"),
    enter,
    leave: () => player.pause(),
    reset,
  };
}
