// The recordings timeline: one UTC day as an SVG bar, recorded ranges drawn as
// rectangles (gaps are where there are none), a playhead, zoom, click or drag to seek.
// Geometry is in SVG attributes (x, width, viewBox), never style attributes: the CSP
// allows no inline style.

export const DAY_MS = 86_400_000;
const SVG = "http://www.w3.org/2000/svg";
// Window widths the zoom offers, in seconds; "fit" picks the narrowest holding everything.
const ZOOMS = [86400, 21600, 3600, 600, 60];

export function clock(ms) {
  return new Date(ms).toISOString().slice(11, 19);
}

const $ = (id) => document.getElementById(id);

export class Timeline {
  constructor(svg, { onSeek, onPreview }) {
    this.svg = svg;
    this.onSeek = onSeek;
    this.onPreview = onPreview;
    this.day = null;
    this.ranges = [];
    this.width = 86400; // seconds in the window
    this.from = 0; // window start, seconds after midnight
    this.playhead = null; // wall ms
    this.dragging = false;
    svg.addEventListener("pointerdown", (event) => this.pointerDown(event));
    svg.addEventListener("pointermove", (event) => this.pointerMove(event));
    svg.addEventListener("pointerup", (event) => this.pointerUp(event));
    svg.addEventListener("pointercancel", () => {
      this.dragging = false;
    });
    $("rec-zoom").addEventListener("change", () => this.zoom($("rec-zoom").value));
  }

  show(day, ranges) {
    this.day = day;
    this.ranges = ranges;
    this.playhead = null;
    const group = $("rec-ranges");
    group.replaceChildren();
    for (const range of ranges) {
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("class", "range");
      rect.setAttribute("x", String((range.start - day) / 1000));
      rect.setAttribute("width", String(Math.max((range.end - range.start) / 1000, 0.01)));
      rect.setAttribute("y", "0");
      rect.setAttribute("height", "10");
      rect.dataset.start = new Date(range.start).toISOString();
      rect.dataset.end = new Date(range.end).toISOString();
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${clock(range.start)}–${clock(range.end)} UTC`;
      rect.append(title);
      group.append(rect);
    }
    $("rec-zoom").value = "fit";
    this.zoom("fit");
    this.setPlayhead(null);
  }

  zoom(choice) {
    if (this.day === null) return;
    let width;
    let centre;
    if (choice === "fit" && this.ranges.length) {
      const first = (this.ranges[0].start - this.day) / 1000;
      const last = (this.ranges[this.ranges.length - 1].end - this.day) / 1000;
      const span = (last - first) * 1.1;
      width = [...ZOOMS].reverse().find((w) => w >= span) || 86400;
      centre = (first + last) / 2;
    } else {
      width = choice === "fit" ? 86400 : Number(choice);
      centre = this.playhead !== null ? (this.playhead - this.day) / 1000 : this.from + this.width / 2;
    }
    this.width = width;
    this.place(centre);
  }

  // Put the window's centre near `centre` (seconds), inside the day.
  place(centre) {
    this.from = Math.min(Math.max(centre - this.width / 2, 0), 86400 - this.width);
    this.svg.setAttribute("viewBox", `${this.from} 0 ${this.width} 10`);
    const ticks = $("rec-scale").children;
    for (let i = 0; i < ticks.length; i++) {
      const at = this.day + (this.from + (this.width * i) / (ticks.length - 1)) * 1000;
      ticks[i].textContent = this.width <= 600 ? clock(at) : clock(at).slice(0, 5);
    }
  }

  setPlayhead(wall) {
    this.playhead = wall;
    const head = $("rec-playhead");
    head.setAttribute("visibility", wall === null ? "hidden" : "visible");
    if (wall === null || this.day === null) {
      this.svg.setAttribute("aria-valuenow", "0");
      this.svg.setAttribute("aria-valuetext", "No position");
      return;
    }
    const x = (wall - this.day) / 1000;
    head.setAttribute("x1", String(x));
    head.setAttribute("x2", String(x));
    if (!this.dragging && (x < this.from || x > this.from + this.width)) this.place(x + this.width * 0.4);
    this.svg.setAttribute("aria-valuenow", x.toFixed(1));
    this.svg.setAttribute("aria-valuetext", `${clock(wall)} UTC`);
  }

  timeAt(event) {
    const box = this.svg.getBoundingClientRect();
    const fraction = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
    return this.day + (this.from + fraction * this.width) * 1000;
  }

  pointerDown(event) {
    if (this.day === null || event.button !== 0) return;
    event.preventDefault();
    this.svg.focus();
    this.svg.setPointerCapture?.(event.pointerId);
    this.dragging = true;
    this.preview(event);
  }

  pointerMove(event) {
    if (this.dragging) this.preview(event);
  }

  pointerUp(event) {
    if (!this.dragging) return;
    this.dragging = false;
    const at = this.timeAt(event);
    this.setPlayhead(at);
    this.onSeek(at);
  }

  preview(event) {
    const at = this.timeAt(event);
    this.setPlayhead(at);
    this.onPreview(at);
  }
}
