// What every page of the console shares: the session (tokens in memory only), HTTP
// calls that turn problem+json answers into ApiError, and the one notice area.

export const API = "/api/v1";

export const $ = (id) => document.getElementById(id);

export const session = {
  token: null, // access token: memory only
  refreshToken: null,
  refreshTimer: null,
  username: "",
  userId: null,
  permissions: [],
  restrictions: [],
  sso: false, // signed in through a provider: sign out there too
  ssoCode: null, // a login code waiting for the one-time code (MFA), memory only
  // Bumped when a session ends: answers to requests made before then are dropped, so a
  // late 401 for a signed-out session cannot replace "You are signed out."
  epoch: 0,
};

// ---------------------------------------------------------------- notices

export function notify(text, kind = "error") {
  const box = $("notice");
  box.textContent = text;
  box.className = `notice ${kind}`;
  box.hidden = !text;
}

export function clearNotice() {
  notify("", "info");
}

// ---------------------------------------------------------------- HTTP

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = typeof problem.title === "string" ? problem.title : "";
    this.detail = typeof problem.detail === "string" ? problem.detail : "";
    this.slug = (problem.type || "").replace("urn:lensguard:problem:", "");
    this.retryAfter = problem.retry_after;
  }
}

export async function request(method, url, body) {
  const headers = { Accept: "application/json" };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
}

export async function api(method, path, body) {
  const response = await request(method, API + path, body);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// A file from the API (a recording range, a printable report): fetched with the bearer
// header, since a plain link would need the token in its URL. Returns the body and the
// name the server gave it (Content-Disposition), or `fallback`.
export async function fetchFile(url, accept, fallback) {
  const response = await fetch(url, {
    headers: { Authorization: `Bearer ${session.token}`, Accept: accept },
    credentials: "omit",
    cache: "no-store",
  });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => ({})));
  const blob = await response.blob();
  const named = /filename="?([A-Za-z0-9._-]+)"?/.exec(response.headers.get("Content-Disposition") || "");
  return { blob, name: named ? named[1] : fallback.replace(/[^A-Za-z0-9._-]/g, "_") };
}

// Hands a fetched file to the browser as a download from a blob: URL.
export function saveFile({ blob, name }) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

// Every item of a list route: its pages are linked by Link: <...>; rel="next".
const NEXT_PAGE = /^<(\/[^>]*)>;\s*rel="next"$/;

export async function apiList(path) {
  const items = [];
  let url = `${API}${path}${path.includes("?") ? "&" : "?"}limit=200`;
  while (url) {
    const response = await request("GET", url);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, data);
    items.push(...data);
    const next = NEXT_PAGE.exec(response.headers.get("Link") || "");
    url = next ? next[1] : null;
  }
  return items;
}

// One page of a list route: a JSON array (or {"items": [...]}) and the next page's path.
export async function apiPage(url) {
  const response = await request("GET", url);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  const items = Array.isArray(data) ? data : data.items || [];
  const link = NEXT_PAGE.exec(response.headers.get("Link") || "");
  let next = link ? link[1] : null;
  if (!next && !Array.isArray(data) && data.next_cursor) {
    const following = new URL(url, location.origin);
    following.searchParams.set("cursor", data.next_cursor);
    next = following.pathname + following.search;
  }
  return { items, next };
}

export async function apiAll(url) {
  const items = [];
  for (let next = url; next; ) {
    const page = await apiPage(next);
    items.push(...page.items);
    next = page.next;
  }
  return items;
}

export function plainError(err) {
  if (!(err instanceof ApiError)) return "The server could not be reached. Check your connection.";
  switch (err.status) {
    case 401:
      return err.message.includes("code") ? err.message : "Your sign-in is not valid. Sign in again.";
    case 403:
      return "You are not allowed to do that.";
    case 404:
      return "That device no longer exists or is outside your access.";
    case 429:
      return `Too many attempts. Wait ${err.retryAfter || "a little"} seconds and try again.`;
    default:
      return err.message;
  }
}

// A form's refusal as the server worded it: the problem's title, then its detail.
export function problemText(err) {
  if (!(err instanceof ApiError)) return plainError(err);
  if (err.title && err.detail && err.title !== err.detail) return `${err.title}: ${err.detail}`;
  return err.detail || err.title || plainError(err);
}

// ---------------------------------------------------------------- WebRTC

const GATHER_TIMEOUT_MS = 10000;

// aiortc does no trickle ICE: an offer must carry every candidate, so it is sent once
// gathering is complete (or after GATHER_TIMEOUT_MS with what was found).
export function iceGathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

// ---------------------------------------------------------------- small DOM helpers

// An element with text (never HTML from data: textContent only).
export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

export function button(text, onClick, className = "secondary small") {
  const node = el("button", text, className);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

// Runs one action at a time for a button: disabled while in flight, so a double click
// sends one request (and creates one object).
export async function once(control, action) {
  if (control.disabled) return;
  control.disabled = true;
  try {
    await action();
  } finally {
    control.disabled = false;
  }
}

// A secret shown once, with a copy button. The text stays only in the page's DOM until
// the user dismisses it or leaves the page.
export function copyButton(getText, label = "Copy") {
  const node = button(label, async () => {
    try {
      await navigator.clipboard.writeText(getText());
      node.textContent = "Copied";
    } catch (err) {
      node.textContent = "Select and copy it by hand";
    }
  });
  return node;
}
