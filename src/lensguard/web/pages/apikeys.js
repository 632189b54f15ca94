// API keys (account_self): yours, listed; a new one acts for you with the permissions
// ticked (the server refuses more than yours) and is shown once with a copy button.

import { $, api, apiList, button, clearNotice, copyButton, el, notify, once, session } from "../core.js";
import { refused, row, utc } from "./table.js";

export function createApiKeys(ctx) {
  function hideSecret() {
    $("apikey-value").textContent = "";
    $("apikey-secret-name").textContent = "";
    $("apikey-secret").hidden = true;
  }

  function scopeBoxes() {
    // What a key may hold: your permissions, less the person-only credentials one.
    const grantable = session.permissions.filter((p) => p !== "account_credentials");
    $("apikey-scopes").replaceChildren(
      ...grantable.map((name) => {
        const label = el("label", undefined, "inline");
        const box = el("input");
        box.type = "checkbox";
        box.value = name;
        box.name = "scope";
        label.append(box, ` ${name}`);
        return label;
      }),
    );
  }

  async function load() {
    const mine = session.epoch;
    let keys;
    try {
      keys = await apiList("/api-keys");
    } catch (err) {
      if (mine === session.epoch) refused(ctx, err);
      return;
    }
    if (mine !== session.epoch) return;
    $("apikey-rows").replaceChildren(...keys.map(keyRow));
  }

  function keyRow(key) {
    const controls = [];
    if (!key.revoked) {
      const revoke = button("Revoke", () =>
        once(revoke, async () => {
          clearNotice();
          try {
            await api("DELETE", `/api-keys/${encodeURIComponent(key.id)}`);
            notify(`Key ${key.name} revoked.`, "info");
            await load();
          } catch (err) {
            refused(ctx, err);
          }
        }),
        "secondary small",
      );
      revoke.setAttribute("aria-label", `Revoke ${key.name}`);
      controls.push(revoke);
    }
    const tr = row([key.name, key.scopes.join(", "), utc(key.expires_at), utc(key.last_used_at) || "never", key.revoked ? "Revoked" : "Active"], controls);
    tr.dataset.keyName = key.name;
    return tr;
  }

  async function onCreate(event) {
    event.preventDefault();
    clearNotice();
    await once($("apikey-create"), async () => {
      const scopes = [...document.querySelectorAll("#apikey-scopes input:checked")].map((b) => b.value);
      const body = { name: $("apikey-name").value.trim(), scopes, expires_in_days: Number($("apikey-days").value) };
      try {
        const created = await api("POST", "/api-keys", body);
        $("apikey-form").reset();
        $("apikey-secret-name").textContent = created.name;
        $("apikey-value").textContent = created.key;
        $("apikey-secret").hidden = false;
        notify("Key created. Copy it now: it is not shown again.", "info");
        await load();
      } catch (err) {
        refused(ctx, err);
      }
    });
  }

  $("apikey-form").addEventListener("submit", onCreate);
  $("apikey-copy").replaceChildren(copyButton(() => $("apikey-value").textContent, "Copy key"));
  $("apikey-secret-done").addEventListener("click", hideSecret);

  return {
    view: "apikeys-view",
    tab: "tab-apikeys",
    needs: (permissions) => permissions.includes("account_self"),
    enter: async () => {
      scopeBoxes();
      await load();
    },
    leave: hideSecret,
    reset: () => {
      hideSecret();
      $("apikey-form").reset();
      $("apikey-rows").replaceChildren();
    },
  };
}
