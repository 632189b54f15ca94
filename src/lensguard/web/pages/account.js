// Your account (account_credentials): who you are here, and two-factor authentication
// for an account whose role does not require it (the enrolment step of enrol.js).

import { $, api, session } from "../core.js";
import { startEnrolment } from "../enrol.js";
import { refused } from "./table.js";

export function createAccount(ctx) {
  async function load() {
    const mine = session.epoch;
    let me;
    try {
      me = await api("GET", "/users/me");
    } catch (err) {
      if (mine === session.epoch) refused(ctx, err);
      return;
    }
    if (mine !== session.epoch) return;
    $("account-name").textContent = me.username;
    $("account-role").textContent = me.role;
    $("account-sites").textContent = me.sites.join(", ") || "none";
    $("account-mfa").textContent = me.mfa_enabled ? "On" : "Off";
    // Replacing an enrolled authenticator needs a current code: not offered here yet.
    $("account-mfa-start").hidden = me.mfa_enabled;
  }

  $("account-mfa-start").addEventListener("click", () => startEnrolment());

  return {
    view: "account-view",
    tab: "tab-account",
    needs: (permissions) => permissions.includes("account_credentials"),
    enter: load,
    leave: () => {},
    reset: () => {
      for (const id of ["account-name", "account-role", "account-sites", "account-mfa"]) $(id).textContent = "";
      $("account-mfa-start").hidden = true;
    },
  };
}
