// lensguard console: signing in, the steps a restricted account must take first, and
// the pages (web/pages/*.js) behind the tabs. Loaded as a module file: the CSP forbids
// inline script.
//
// Security choices (docs/console.md): the access token lives in module memory only
// (core.js: never localStorage, cookies or URLs); the signaling socket receives it in
// its first message (pages/live.js); everything shown from the server goes through
// textContent.

import { $, API, ApiError, api, apiAll, apiPage, clearNotice, notify, plainError, problemText, session } from "./core.js";
import { forgetEnrolment, startEnrolment, wireEnrolment } from "./enrol.js";
import * as router from "./router.js";
import { createAccessLog } from "./pages/watched.js";
import { createAccount } from "./pages/account.js";
import { createAudit } from "./pages/audit.js";
import { createCompliance } from "./pages/compliance.js";
import { createIncidents } from "./pages/incidents.js";
import { createPolicies } from "./pages/policies.js";
import { createSecurity } from "./pages/security.js";
import { createApiKeys } from "./pages/apikeys.js";
import { createDeviceAdmin } from "./pages/devices.js";
import { createLive, reauth } from "./pages/live.js";
import { createRecordings } from "./pages/recordings.js";
import { createSessions } from "./pages/sessions.js";
import { createUsers } from "./pages/users.js";
import { createWall, reauthWall } from "./pages/wall.js";
import { exchange, showProviders, takeLoginCode } from "./sso.js";

const EXPIRED = "Your session has ended. Sign in again.";
// The page a session was on when it expired: signing in again returns there.
let resume = null;

// ---------------------------------------------------------------- sign-in

function keepTokens(tokens) {
  session.token = tokens.access_token;
  session.refreshToken = tokens.refresh_token;
  reauth(session.token);
  reauthWall(session.token);
  clearTimeout(session.refreshTimer);
  // Refresh a minute early; the refresh token is single-use and rotates.
  const delay = Math.max(30, tokens.expires_in - 60) * 1000;
  session.refreshTimer = setTimeout(refreshTokens, delay);
}

async function refreshTokens() {
  const epoch = session.epoch;
  try {
    const tokens = await api("POST", "/auth/refresh", { refresh_token: session.refreshToken });
    if (epoch === session.epoch) keepTokens(tokens);
  } catch (err) {
    if (epoch === session.epoch) signedOut(EXPIRED);
  }
}

async function onLogin(event) {
  event.preventDefault();
  clearNotice();
  const username = $("login-username").value.trim();
  const password = $("login-password").value;
  const code = $("login-code").value.trim();
  const body = { username, password };
  if (code) body.code = code;
  $("login-submit").disabled = true;
  try {
    const tokens = await api("POST", "/auth/login", body);
    keepTokens(tokens);
    session.username = username;
    session.restrictions = [...tokens.restrictions];
    $("who-name").textContent = `Signed in as ${username}`;
    $("login-form").reset();
    $("login-code-row").hidden = true;
    // The password for enrolment is asked again there: nothing keeps it in memory.
    await nextStep();
  } catch (err) {
    if (err instanceof ApiError && err.slug === "mfa-required") {
      $("login-code-row").hidden = false;
      $("login-code").focus();
      notify("Enter the 6-digit code from your authenticator app.", "info");
    } else if (err instanceof ApiError && err.slug === "account-locked") {
      // Failures from elsewhere locked the account: password plus a one-time code still works.
      $("login-code-row").hidden = false;
      notify(`Too many failed sign-ins for this account. Wait ${err.retryAfter || "a little"} seconds, or sign in with your one-time code.`);
    } else if (err instanceof ApiError && err.status === 401) {
      notify(err.message.includes("code") ? err.message : "Wrong username or password.");
    } else {
      notify(plainError(err));
    }
  } finally {
    $("login-submit").disabled = false;
  }
}

// Back from the provider (docs/sso.md): the login code for the usual tokens, with the
// one-time code when the account's MFA is local.
async function finishSso(loginCode, code) {
  try {
    const tokens = await exchange(ApiError, loginCode, code);
    session.ssoCode = null;
    session.sso = true;
    keepTokens(tokens);
    const me = await api("GET", "/users/me");
    session.username = me.username;
    session.restrictions = [...tokens.restrictions];
    $("who-name").textContent = `Signed in as ${me.username}`;
    $("sso-code-form").hidden = true;
    $("sso-code-form").reset();
    await nextStep();
  } catch (err) {
    if (err instanceof ApiError && err.slug === "mfa-required") {
      session.ssoCode = loginCode; // kept in memory only, until it expires
      $("sso-code-form").hidden = false;
      $("sso-code").focus();
      notify("Enter the 6-digit code from your authenticator app.", "info");
    } else if (err instanceof ApiError && err.status === 401) {
      notify(err.message.includes("code") && code ? err.message : "Single sign-on did not complete. Try again.");
    } else {
      notify(plainError(err));
    }
  }
}

async function onSsoCode(event) {
  event.preventDefault();
  clearNotice();
  if (session.ssoCode) await finishSso(session.ssoCode, $("sso-code").value.trim());
}

// A restricted account changes its password, then enrols MFA, then enters the console.
async function nextStep() {
  if (session.restrictions.includes("password_change")) {
    router.show("password-view");
    $("password-username").value = session.username; // lets password managers file it correctly
    $("password-current").focus();
  } else if (session.restrictions.includes("mfa_enrolment")) {
    startEnrolment();
  } else {
    await enterConsole();
  }
}

async function onPasswordChange(event) {
  event.preventDefault();
  clearNotice();
  const current = $("password-current").value;
  const fresh = $("password-new").value;
  if (fresh !== $("password-confirm").value) {
    notify("The two new passwords differ.");
    return;
  }
  const submit = $("password-submit");
  submit.disabled = true;
  try {
    // The console always revokes API keys on a password change (the API leaves it to the caller).
    const result = await api("POST", "/auth/password", { current_password: current, new_password: fresh, revoke_api_keys: true });
    $("password-form").reset();
    const keys = result.api_keys_revoked;
    session.restrictions = session.restrictions.filter((r) => r !== "password_change");
    await nextStep();
    notify(keys ? `Password changed; ${keys} API key${keys === 1 ? "" : "s"} revoked.` : "Password changed.", "info");
  } catch (err) {
    if (err instanceof ApiError && err.status === 422) notify(`The new password was refused: ${err.message}`);
    else if (err instanceof ApiError && err.status === 401 && err.message.includes("password")) notify(problemText(err));
    else notify(plainError(err));
  } finally {
    submit.disabled = false;
  }
}

async function onLogout() {
  session.epoch += 1; // what is in flight now belongs to the session being ended
  try {
    if (session.token && session.sso) {
      // Signed in through a provider: sign out there too, where it offers it.
      const { end_session_url: url } = await api("POST", "/auth/oidc/logout");
      session.token = null;
      if (url) {
        location.assign(url);
        return;
      }
    } else if (session.token) await api("POST", "/auth/logout");
  } catch (err) {
    // Signing out locally matters more than the server's answer.
  }
  resume = null;
  signedOut("You are signed out.", "info");
}

function signedOut(message, kind = "error") {
  if (message === EXPIRED) resume = router.current() || resume;
  session.epoch += 1;
  router.leaveAll();
  clearTimeout(session.refreshTimer);
  session.token = null;
  session.refreshToken = null;
  session.sso = false;
  session.ssoCode = null;
  session.permissions = [];
  session.restrictions = [];
  router.resetAll();
  router.allow([]); // the next account's tabs follow its own permissions
  forgetEnrolment();
  router.show("login-view");
  notify(message, kind);
}

// ---------------------------------------------------------------- the console

async function enterConsole() {
  const epoch = session.epoch;
  router.show("console-view");
  let permissions = [];
  try {
    const me = await api("GET", "/users/me");
    permissions = me.permissions;
    session.userId = me.id;
  } catch (err) {
    // Shown as nothing permitted; the device list says whether the session still holds.
  }
  if (epoch !== session.epoch) return;
  session.permissions = permissions;
  router.allow(permissions);
  const back = resume;
  resume = null;
  if (back && back !== "console-view" && router.allowed(back)) {
    await router.enter(back);
    return;
  }
  // The tabs of an earlier sign-in stay clickable while /users/me is on its way: a page
  // opened meanwhile is where the user is, so it is not swapped back for Live.
  const moved = router.current();
  if (moved && moved !== "console-view" && router.allowed(moved)) return;
  await router.enter("console-view");
}

// ---------------------------------------------------------------- start

function start() {
  $("login-form").addEventListener("submit", onLogin);
  $("sso-code-form").addEventListener("submit", onSsoCode);
  $("password-form").addEventListener("submit", onPasswordChange);
  $("logout").addEventListener("click", onLogout);
  const context = {
    API,
    ApiError,
    session,
    api,
    page: apiPage,
    listAll: apiAll,
    notify,
    clearNotice,
    plainError,
    problemText,
    signedOut,
    expired: () => signedOut(EXPIRED),
    failed: (err, notFound) => {
      if (err instanceof ApiError && err.status === 401) signedOut(EXPIRED);
      else notify(err instanceof ApiError && err.status === 404 && notFound ? notFound : plainError(err));
    },
  };
  wireEnrolment({ ...context, done: enterConsole });
  router.addPage(createLive(context));
  router.addPage(createWall(context));
  router.addPage(createRecordings(context));
  router.addPage(createAccessLog(context));
  router.addPage(createUsers(context));
  router.addPage(createSessions(context));
  router.addPage(createApiKeys(context));
  router.addPage(createDeviceAdmin(context));
  router.addPage(createAccount(context));
  router.addPage(createPolicies(context));
  router.addPage(createAudit(context));
  router.addPage(createSecurity(context));
  router.addPage(createIncidents(context));
  router.addPage(createCompliance(context));
  router.wireTabs();
  router.show("login-view");
  $("login-username").focus();
  showProviders(api, $("sso-buttons")).catch(() => {}); // no buttons when it fails
  const loginCode = takeLoginCode();
  if (loginCode) finishSso(loginCode);
}

start();
