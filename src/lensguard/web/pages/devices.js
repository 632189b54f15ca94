// Device admin (device_manage): register a device, rotate a credential. The credential
// is shown once, next to the `lensguard agent` command that uses it (server URL and
// --ca-file filled in; the credential itself goes in a file, never on a command line).

import { $, api, apiList, button, clearNotice, copyButton, notify, once, session } from "../core.js";
import { refused, row } from "./table.js";

// Where the agent reads the credential and the server's certificate on the device.
const KEY_FILE = "/etc/lensguard/device.key";
const CA_FILE = "/etc/lensguard/server-cert.pem";

export function agentCommand(origin) {
  return `lensguard agent --server ${origin} --credential-file ${KEY_FILE} --ca-file ${CA_FILE}`;
}

export function createDeviceAdmin(ctx) {
  function hideSecret() {
    $("devadmin-credential").textContent = "";
    $("devadmin-command").textContent = "";
    $("devadmin-secret").hidden = true;
  }

  function showSecret(answer) {
    $("devadmin-secret-name").textContent = answer.device.name;
    $("devadmin-credential").textContent = answer.credential;
    $("devadmin-command").textContent = agentCommand(location.origin);
    $("devadmin-secret").hidden = false;
  }

  async function load() {
    const mine = session.epoch;
    let devices;
    try {
      devices = await apiList("/devices");
    } catch (err) {
      if (mine === session.epoch) refused(ctx, err);
      return;
    }
    if (mine !== session.epoch) return;
    $("devadmin-rows").replaceChildren(...devices.map(deviceRow));
  }

  function deviceRow(device) {
    const rotate = button("Rotate credential", () =>
      once(rotate, async () => {
        clearNotice();
        try {
          const answer = await api("POST", `/devices/${encodeURIComponent(device.id)}/credential`);
          showSecret(answer);
          notify(`New credential for ${device.name}: the old one stopped working. Copy it now.`, "info");
        } catch (err) {
          refused(ctx, err);
        }
      }),
    );
    rotate.setAttribute("aria-label", `Rotate the credential of ${device.name}`);
    const tr = row([device.name, device.site, device.kind, device.capabilities.join(", "), device.online ? "Online" : "Offline"], [rotate]);
    tr.dataset.deviceName = device.name;
    return tr;
  }

  async function onRegister(event) {
    event.preventDefault();
    clearNotice();
    await once($("devadmin-register"), async () => {
      const capabilities = ["devadmin-video", "devadmin-control", "devadmin-ptz"].filter((id) => $(id).checked).map((id) => $(id).value);
      const body = { name: $("devadmin-name").value.trim(), site: $("devadmin-site").value.trim(), kind: $("devadmin-kind").value, capabilities };
      try {
        const answer = await api("POST", "/devices", body);
        $("devadmin-form").reset();
        showSecret(answer);
        notify(`Device ${answer.device.name} registered. Copy its credential now: it is not shown again.`, "info");
        await load();
      } catch (err) {
        refused(ctx, err);
      }
    });
  }

  $("devadmin-form").addEventListener("submit", onRegister);
  $("devadmin-credential-copy").replaceChildren(copyButton(() => $("devadmin-credential").textContent, "Copy credential"));
  $("devadmin-command-copy").replaceChildren(copyButton(() => $("devadmin-command").textContent, "Copy command"));
  $("devadmin-secret-done").addEventListener("click", hideSecret);

  return {
    view: "devadmin-view",
    tab: "tab-devadmin",
    needs: (permissions) => permissions.includes("device_manage"),
    enter: load,
    leave: hideSecret,
    reset: () => {
      hideSecret();
      $("devadmin-form").reset();
      $("devadmin-rows").replaceChildren();
    },
  };
}
