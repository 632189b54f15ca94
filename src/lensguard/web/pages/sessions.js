// Sessions: your active sign-ins (account_self); an admin (user_management) sees those
// of every account it manages. Ending one signs that browser out at once.

import { $, api, apiList, button, clearNotice, notify, once, session } from "../core.js";
import { refused, row, utc } from "./table.js";

export function createSessions(ctx) {
  async function load() {
    const mine = session.epoch;
    const everyone = session.permissions.includes("user_management");
    $("sessions-scope").textContent = everyone
      ? "The active sign-ins of every account you manage. Ending one signs that browser out at once."
      : "Your active sign-ins. Ending one signs that browser out at once.";
    let found;
    let names = new Map();
    try {
      found = await apiList(everyone ? "/sessions?all_users=true" : "/sessions");
      if (everyone) names = new Map((await apiList("/users")).map((u) => [u.id, u.username]));
    } catch (err) {
      if (mine === session.epoch) refused(ctx, err);
      return;
    }
    if (mine !== session.epoch) return;
    $("session-rows").replaceChildren(...found.map((s) => sessionRow(s, names)));
  }

  function sessionRow(login, names) {
    const who = names.get(login.user_id) || (login.user_id === session.userId ? session.username : login.user_id);
    const label = login.current ? `${who} (this browser)` : who;
    const end = button("End session", () =>
      once(end, async () => {
        clearNotice();
        try {
          await api("DELETE", `/sessions/${encodeURIComponent(login.id)}`);
        } catch (err) {
          refused(ctx, err);
          return;
        }
        if (login.current) {
          ctx.signedOut("You ended this session: you are signed out.", "info");
          return;
        }
        notify(`Session of ${who} ended.`, "info");
        await load();
      }),
    );
    end.setAttribute("aria-label", `End the session of ${label} from ${utc(login.created_at)}`);
    const tr = row([label, utc(login.created_at), utc(login.last_used_at), login.client_address || "", login.user_agent || ""], [end]);
    tr.dataset.sessionId = login.id;
    return tr;
  }

  return {
    view: "sessions-view",
    tab: "tab-sessions",
    needs: (permissions) => permissions.includes("account_self"),
    enter: load,
    leave: () => {},
    reset: () => $("session-rows").replaceChildren(),
  };
}
