// Recorded video through Media Source Extensions: segments fetched on demand into one
// SourceBuffer per recording (docs/console.md, "Recordings").
//
// Each segment is a whole WebM file whose timestamps are the recording's own, so the
// segments of one recording appended in order (segments mode, no timestampOffset) make
// one continuous timeline; its wall-clock time is the recording's origin plus the media
// time. Another recording starts its own timeline at zero: the player opens a fresh
// MediaSource for it. Only a window around the playhead stays buffered.

export const MIME = 'video/webm; codecs="vp8"';
const AHEAD_S = 20; // fetch until this much is buffered past the playhead
const BEHIND_S = 30; // keep this much behind it; older frames are removed
const NEAR_END_S = 0.15; // this close to the end of a buffered range counts as stalled

export class PlaybackError extends Error {
  constructor(kind, cause) {
    super(cause && cause.message ? cause.message : kind);
    this.kind = kind; // "decode" | "unsupported" | the loader's own errors pass through
    this.cause = cause;
  }
}

function waitFor(target, event) {
  return new Promise((resolve) => target.addEventListener(event, resolve, { once: true }));
}

export class SegmentPlayer {
  // load(segment, signal) -> Promise<ArrayBuffer>; next(segment) -> Promise<segment | null>
  // (the one after it, any recording); onError(err); onTime(wallMs); onEnd().
  constructor(video, { load, next, onError, onTime, onEnd }) {
    this.video = video;
    this.hooks = { load, next, onError, onTime, onEnd };
    this.run = null;
    this.generation = 0;
    this.rate = 1;
    this.wantPlay = false;
    video.addEventListener("timeupdate", () => this.onTimeUpdate());
    video.addEventListener("waiting", () => this.unstick());
    video.addEventListener("ended", () => {
      if (!this.run || !this.run.ended) return;
      this.wantPlay = false; // a seek after the end shows its frame; Play goes on from there
      this.hooks.onEnd();
    });
  }

  static supported() {
    return typeof MediaSource !== "undefined" && MediaSource.isTypeSupported(MIME);
  }

  // Wall-clock milliseconds at the playhead, or null before anything is buffered.
  wallTime() {
    if (!this.run || this.run.origin === null) return null;
    return this.run.origin + this.video.currentTime * 1000;
  }

  get loaded() {
    return this.run !== null;
  }

  setRate(rate) {
    this.rate = rate;
    this.video.defaultPlaybackRate = rate;
    this.video.playbackRate = rate;
  }

  async play() {
    this.wantPlay = true;
    await this.video.play().catch(() => {});
  }

  pause() {
    this.wantPlay = false;
    this.video.pause();
  }

  // Forget everything: no MediaSource, nothing buffered, every pending fetch abandoned.
  reset() {
    this.generation += 1;
    this.wantPlay = false;
    this.closeRun();
    this.video.removeAttribute("src");
    this.video.load();
  }

  closeRun() {
    if (!this.run) return;
    this.run.abort.abort();
    URL.revokeObjectURL(this.run.url);
    this.run = null;
  }

  // Show wall time `at` (ms), which `segment` holds; then keep buffering after it.
  async seek(at, segment) {
    const generation = ++this.generation;
    if (!this.run || this.run.recordingId !== segment.recording_id) {
      await this.openRun(segment.recording_id);
      if (generation !== this.generation) return;
    } else {
      this.run.abort.abort(); // a fetch for the old position is no longer wanted
      this.run.abort = new AbortController();
    }
    const run = this.run;
    Object.assign(run, { target: at, pending: segment, following: null, lastEnd: null, ended: false });
    if (run.origin !== null) {
      const here = (at - run.origin) / 1000;
      if (run.appended.has(segment.id)) {
        this.video.currentTime = here;
        run.target = null;
        if (this.wantPlay) this.video.play().catch(() => {}); // also after "ended"
      }
      await this.trim(run, here - BEHIND_S, here + AHEAD_S * 2);
    }
    await this.pump(generation);
  }

  async openRun(recordingId) {
    this.closeRun();
    const source = new MediaSource();
    const url = URL.createObjectURL(source);
    this.video.src = url;
    this.video.defaultPlaybackRate = this.rate;
    this.video.playbackRate = this.rate;
    await waitFor(source, "sourceopen");
    const buffer = source.addSourceBuffer(MIME);
    buffer.mode = "segments";
    this.run = {
      recordingId,
      source,
      buffer,
      url,
      ops: Promise.resolve(), // SourceBuffer operations, one at a time
      origin: null, // wall ms at media time 0
      appended: new Map(), // segment id -> segment, for what is buffered now
      lastEnd: null, // wall ms where the last segment in sequence ends
      pending: null, // the next segment to fetch, in order
      following: null, // the first segment of the next recording, once reached
      target: null, // wall ms to show once its segment is in
      abort: new AbortController(),
      pumping: null, // the generation whose pump is running
      ended: false,
    };
  }

  media(run, wallIso) {
    return (Date.parse(wallIso) - run.origin) / 1000;
  }

  aheadSeconds(run) {
    if (run.origin === null || run.lastEnd === null || run.target !== null) return 0;
    return (run.lastEnd - this.wallTime()) / 1000;
  }

  async pump(generation) {
    const run = this.run;
    if (!run || run.pumping === generation) return;
    run.pumping = generation;
    try {
      await this.fill(run, generation);
    } finally {
      if (run.pumping === generation) run.pumping = null;
    }
  }

  async fill(run, generation) {
    const current = () => generation === this.generation && run === this.run;
    while (current() && run.pending) {
      if (this.aheadSeconds(run) >= AHEAD_S) return; // timeupdate pumps again later
      const segment = run.pending;
      if (!run.appended.has(segment.id)) {
        let data;
        try {
          data = await this.hooks.load(segment, run.abort.signal);
        } catch (err) {
          if (current() && !(err && err.name === "AbortError")) this.fail(err);
          return;
        }
        if (!current()) return;
        try {
          await this.append(run, data);
        } catch (err) {
          if (current()) this.fail(new PlaybackError("decode", err));
          return;
        }
        if (!current()) return;
        run.appended.set(segment.id, segment);
        if (run.origin === null) run.origin = Date.parse(segment.start) - run.buffer.buffered.start(0) * 1000;
      }
      run.lastEnd = Date.parse(segment.end);
      if (run.target !== null) {
        this.video.currentTime = Math.max(0, (run.target - run.origin) / 1000);
        run.target = null;
        if (this.wantPlay) this.video.play().catch(() => {});
      }
      let after;
      try {
        after = await this.hooks.next(segment);
      } catch (err) {
        if (current()) this.fail(err);
        return;
      }
      if (!current()) return;
      if (after && after.recording_id !== run.recordingId) {
        run.following = after; // played once this recording has run out
        after = null;
      }
      run.pending = after;
      this.unstick();
    }
    if (current() && !run.pending && !run.following && !run.ended) {
      run.ended = true; // nothing after this: let the element reach "ended"
      await this.serial(run, () => {
        if (run.source.readyState === "open") run.source.endOfStream();
        return false;
      });
      this.unstick();
    }
  }

  async append(run, data) {
    try {
      await this.serial(run, () => run.buffer.appendBuffer(data));
    } catch (err) {
      if (!err || err.name !== "QuotaExceededError") throw err;
      const here = this.video.currentTime; // the browser's own limit: keep less behind
      await this.trim(run, here - 2, here + AHEAD_S);
      await this.serial(run, () => run.buffer.appendBuffer(data));
    }
  }

  // Run `start` once the SourceBuffer is free and wait for its update; `start`
  // returns false when it had nothing to do.
  serial(run, start) {
    const op = run.ops.then(
      () =>
        new Promise((resolve, reject) => {
          const done = () => {
            run.buffer.removeEventListener("error", failed);
            resolve();
          };
          const failed = () => {
            run.buffer.removeEventListener("updateend", done);
            reject(new Error("the browser could not decode the recorded video"));
          };
          run.buffer.addEventListener("updateend", done, { once: true });
          run.buffer.addEventListener("error", failed, { once: true });
          let started;
          try {
            started = start();
          } catch (err) {
            started = false;
            reject(err);
          }
          if (started === false) {
            run.buffer.removeEventListener("updateend", done);
            run.buffer.removeEventListener("error", failed);
            resolve();
          }
        }),
    );
    run.ops = op.catch(() => {});
    return op;
  }

  // Keep media time [from, to] buffered, drop the rest (and forget what was dropped).
  async trim(run, from, to) {
    if (run.origin === null) return;
    await this.serial(run, () => {
      const buffered = run.buffer.buffered;
      if (!buffered.length || from <= buffered.start(0)) return false;
      run.buffer.remove(0, from);
      return true;
    });
    await this.serial(run, () => {
      const buffered = run.buffer.buffered;
      if (!buffered.length || to >= buffered.end(buffered.length - 1)) return false;
      run.buffer.remove(to, Infinity);
      return true;
    });
    for (const [id, segment] of run.appended) {
      if (this.media(run, segment.start) < from || this.media(run, segment.end) > to) run.appended.delete(id);
    }
  }

  onTimeUpdate() {
    const wall = this.wallTime();
    if (wall === null) return;
    this.hooks.onTime(wall);
    const run = this.run;
    const here = this.video.currentTime;
    const buffered = run.buffer.buffered;
    if (buffered.length && buffered.start(0) < here - BEHIND_S - 5) {
      this.trim(run, here - BEHIND_S, Infinity).catch(() => {});
    }
    if (run.pending && this.aheadSeconds(run) < AHEAD_S) this.pump(this.generation).catch(() => {});
    this.unstick();
  }

  // At the end of a buffered range: jump a gap in the recording (not one that a
  // segment still on its way will fill), or go on to the next recording.
  unstick() {
    const run = this.run;
    if (!run || run.origin === null || run.target !== null) return;
    const here = this.video.currentTime;
    const buffered = run.buffer.buffered;
    for (let i = 0; i < buffered.length; i++) {
      if (here < buffered.start(i)) {
        const coming = run.pending && this.media(run, run.pending.start) < buffered.start(i) - 0.05;
        if (!coming && (i === 0 || here >= buffered.end(i - 1) - NEAR_END_S)) this.video.currentTime = buffered.start(i);
        return;
      }
      if (here < buffered.end(i) - NEAR_END_S) return; // playing inside this range
    }
    if (run.pending) return; // more of this recording is on its way
    if (run.following) {
      const next = run.following;
      run.following = null;
      this.seek(Date.parse(next.start), next).catch((err) => this.fail(err));
    }
  }

  fail(err) {
    this.wantPlay = false;
    this.video.pause();
    this.hooks.onError(err);
  }
}
