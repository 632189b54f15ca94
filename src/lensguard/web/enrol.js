// MFA enrolment (POST /auth/mfa/enrol, then /auth/mfa/confirm): the step an account
// whose role requires a second factor takes before anything else. The server draws the
// otpauth URI as a QR code (an SVG data: URI, which the CSP's img-src allows); the key
// and the recovery codes are shown once, in the page only, and forgotten on leaving.

import { $, ApiError, api, clearNotice, copyButton, el, notify, once, problemText, session } from "./core.js";
import { show } from "./router.js";

let ctx = null;
let codes = [];

export function forgetEnrolment() {
  codes = [];
  $("mfa-start-form").reset();
  $("mfa-confirm-form").reset();
  $("mfa-qr").removeAttribute("src");
  $("mfa-secret").textContent = "";
  $("mfa-codes").replaceChildren();
  $("mfa-start-form").hidden = false;
  $("mfa-scan").hidden = true;
  $("mfa-done").hidden = true;
}

export function startEnrolment() {
  forgetEnrolment();
  show("mfa-view");
  // Only an account whose role requires MFA must enrol before anything else.
  $("mfa-cancel").hidden = session.restrictions.includes("mfa_enrolment");
  $("mfa-username").value = session.username;
  $("mfa-password").focus();
}

function refused(err) {
  if (err instanceof ApiError && err.status === 401 && !err.message.includes("code") && !err.message.includes("password")) {
    ctx.expired();
  } else {
    notify(problemText(err));
  }
}

async function onStart(event) {
  event.preventDefault();
  clearNotice();
  await once($("mfa-start"), async () => {
    try {
      const answer = await api("POST", "/auth/mfa/enrol", { password: $("mfa-password").value });
      $("mfa-start-form").reset();
      $("mfa-qr").src = answer.qr_code;
      $("mfa-secret").textContent = answer.secret;
      $("mfa-start-form").hidden = true;
      $("mfa-scan").hidden = false;
      $("mfa-code").focus();
    } catch (err) {
      refused(err);
    }
  });
}

async function onConfirm(event) {
  event.preventDefault();
  clearNotice();
  await once($("mfa-confirm"), async () => {
    try {
      const answer = await api("POST", "/auth/mfa/confirm", { code: $("mfa-code").value.trim() });
      codes = answer.recovery_codes;
      session.restrictions = session.restrictions.filter((r) => r !== "mfa_enrolment");
      $("mfa-qr").removeAttribute("src");
      $("mfa-secret").textContent = "";
      $("mfa-scan").hidden = true;
      $("mfa-cancel").hidden = true;
      $("mfa-codes").replaceChildren(...codes.map((code) => el("li", code)));
      $("mfa-done").hidden = false;
      notify("Two-factor authentication is on. Sign-ins now need a code from your app.", "info");
      $("mfa-continue").focus();
    } catch (err) {
      refused(err);
    }
  });
}

export function wireEnrolment(context) {
  ctx = context;
  $("mfa-start-form").addEventListener("submit", onStart);
  $("mfa-confirm-form").addEventListener("submit", onConfirm);
  $("mfa-copy-slot").replaceChildren(copyButton(() => codes.join("\n"), "Copy the codes"));
  $("mfa-cancel").addEventListener("click", async () => {
    forgetEnrolment();
    clearNotice();
    await ctx.done();
  });
  $("mfa-continue").addEventListener("click", async () => {
    forgetEnrolment();
    clearNotice();
    await ctx.done();
  });
}
