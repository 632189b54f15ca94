// Users (user_management): the accounts in the admin's scope; create, disable, enable.
// The server refuses anything beyond the admin's own permissions and sites, and that
// refusal is shown as it words it.

import { $, api, apiList, button, clearNotice, el, notify, once, session } from "../core.js";
import { refused, row } from "./table.js";

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
    const controls = user.username === session.username ? [] : [toggle];
    const tr = row(
      [user.username, user.role, user.sites.join(", ") || "none", user.mfa_enabled ? "On" : "Off", user.disabled ? "Disabled" : "Active"],
      controls,
    );
    tr.dataset.username = user.username;
    return tr;
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
    const fallback = el("option", "Default role");
    fallback.value = "";
    // Devices are registered on the Device admin page, not created as users.
    const names = roles.map((r) => r.name).filter((name) => name !== "device");
    select.replaceChildren(fallback, ...names.map((name) => Object.assign(el("option", name), { value: name })));
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
    },
  };
}
