// Users (user_management): the accounts in the admin's scope; create, disable, enable.
// The server refuses anything beyond the admin's own permissions and sites, and that
// refusal is shown as it words it.

import { $, api, apiList, button, clearNotice, el, notify, once, session } from "../core.js";
import { refused, row, utc } from "./table.js";

export function createUsers(ctx) {
  let epoch = -1;

  async function load() {
    const mine = session.epoch;
    let users;
    try {
      users = await apiList("/users");
    } catch (err) {
      if (mine === session.epoch) refused(ctx, err);
      return;
    }
    if (mine !== session.epoch) return;
    $("user-rows").replaceChildren(...users.map(userRow));
    const who = $("user-edit-who");
    const chosen = who.value;
    who.replaceChildren(...users.map((u) => option(u.username, u.id)));
    if (users.some((u) => u.id === chosen)) who.value = chosen;
  }

  function option(text, value) {
    const node = el("option", text);
    node.value = value;
    return node;
  }

  function userRow(user) {
    const toggle = button(user.disabled ? "Enable" : "Disable", () =>
      once(toggle, async () => {
        clearNotice();
        try {
          await api("PATCH", `/users/${encodeURIComponent(user.id)}`, { disabled: !user.disabled });
          notify(`${user.username} is ${user.disabled ? "enabled" : "disabled"}.`, "info");
          await load();
        } catch (err) {
          refused(ctx, err);
        }
      }),
    );
    toggle.setAttribute("aria-label", `${user.disabled ? "Enable" : "Disable"} ${user.username}`);
    const links = button("Identities", () => once(links, () => showIdentities(user)));
    links.setAttribute("aria-label", `Sign-in identities of ${user.username}`);
    const controls = user.username === session.username ? [links] : [toggle, links];
    const tr = row(
      [user.username, user.role, user.sites.join(", ") || "none", user.mfa_enabled ? "On" : "Off", user.disabled ? "Disabled" : "Active"],
      controls,
    );
    tr.dataset.username = user.username;
    return tr;
  }

  // The provider identities that sign in as ``user`` (docs/sso.md), each unlinkable.
  async function showIdentities(user) {
    clearNotice();
    const mine = session.epoch;
    let found;
    try {
      found = await api("GET", `/users/${encodeURIComponent(user.id)}/identities`);
    } catch (err) {
      if (mine === session.epoch) refused(ctx, err);
      return;
    }
    if (mine !== session.epoch) return;
    $("user-identities-title").textContent = `Sign-in identities of ${user.username}`;
    $("user-identities-password").textContent = found.password_login
      ? "Password sign-in: allowed."
      : "Password sign-in: off (single sign-on only).";
    const rows = found.identities.map((link) => {
      const unlink = button("Unlink", () =>
        once(unlink, async () => {
          clearNotice();
          try {
            await api("DELETE", `/users/${encodeURIComponent(user.id)}/identities/${encodeURIComponent(link.id)}`);
            await showIdentities(user);
            notify(`${link.provider} no longer signs in as ${user.username}.`, "info");
          } catch (err) {
            refused(ctx, err);
          }
        }),
      );
      unlink.setAttribute("aria-label", `Unlink ${link.provider} ${link.subject}`);
      return row([link.provider, link.issuer, link.subject, utc(link.last_login_at) || "never"], [unlink]);
    });
    if (!rows.length) rows.push(row(["No provider identity is linked.", "", "", ""]));
    $("user-identity-rows").replaceChildren(...rows);
    $("user-identities").hidden = false;
  }

  async function loadRoles() {
    const select = $("user-role");
    if (epoch === session.epoch && select.options.length) return;
    let roles = [];
    try {
      roles = (await api("GET", "/roles")).roles;
    } catch (err) {
      refused(ctx, err);
      return;
    }
    epoch = session.epoch;
    // Devices are registered on the Device admin page, not created as users.
    const names = roles.map((r) => r.name).filter((name) => name !== "device");
    select.replaceChildren(option("Default role", ""), ...names.map((name) => option(name, name)));
    $("user-edit-role").replaceChildren(option("Keep the role", ""), ...names.map((name) => option(name, name)));
  }

  async function onChange(event) {
    event.preventDefault();
    clearNotice();
    await once($("user-edit-save"), async () => {
      const body = {};
      if ($("user-edit-role").value) body.role = $("user-edit-role").value;
      const sites = $("user-edit-sites").value.split(",").map((s) => s.trim()).filter(Boolean);
      if (sites.length) body.sites = sites;
      if (!Object.keys(body).length) {
        notify("Pick a new role or type new sites first.");
        return;
      }
      try {
        const user = await api("PATCH", `/users/${encodeURIComponent($("user-edit-who").value)}`, body);
        $("user-edit-role").value = "";
        $("user-edit-sites").value = "";
        notify(`${user.username} is now ${user.role} on ${user.sites.join(", ") || "no sites"}.`, "info");
        await load();
      } catch (err) {
        refused(ctx, err);
      }
    });
  }

  async function onCreate(event) {
    event.preventDefault();
    clearNotice();
    await once($("user-create"), async () => {
      const body = { username: $("user-name").value.trim(), password: $("user-password").value };
      if ($("user-role").value) body.role = $("user-role").value;
      const sites = $("user-sites").value.split(",").map((s) => s.trim()).filter(Boolean);
      if (sites.length) body.sites = sites;
      try {
        const user = await api("POST", "/users", body);
        $("user-form").reset();
        notify(`Account ${user.username} created (${user.role}). It must choose a new password at its first sign-in.`, "info");
        await load();
      } catch (err) {
        refused(ctx, err);
      }
    });
  }

  $("user-form").addEventListener("submit", onCreate);
  $("user-edit-form").addEventListener("submit", onChange);

  return {
    view: "users-view",
    tab: "tab-users",
    needs: (permissions) => permissions.includes("user_management"),
    enter: async () => {
      await loadRoles();
      await load();
    },
    leave: () => {},
    reset: () => {
      $("user-form").reset();
      $("user-rows").replaceChildren();
      $("user-role").replaceChildren();
      $("user-edit-form").reset();
      $("user-edit-who").replaceChildren();
      $("user-edit-role").replaceChildren();
      $("user-identity-rows").replaceChildren();
      $("user-identities").hidden = true;
    },
  };
}
