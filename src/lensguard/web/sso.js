// Single sign-on (docs/sso.md): one button per provider, and the way back from it.
//
// The provider sends the browser back to the console with a one-time login code in the
// URL fragment (never sent to a server). It is taken out of the address bar at once and
// exchanged, with the HttpOnly binding cookie the callback set, for the usual tokens.

const EXCHANGE = "/api/v1/auth/oidc/exchange";

export async function showProviders(api, container) {
  const { providers } = await api("GET", "/auth/oidc/providers");
  const buttons = providers.map((provider) => {
    const link = document.createElement("a");
    link.className = "button sso-button";
    link.href = `${provider.start_path}?next=${encodeURIComponent("/")}`;
    link.textContent = `Sign in with ${provider.label}`;
    return link;
  });
  container.replaceChildren(...buttons);
  container.hidden = buttons.length === 0;
}

export function takeLoginCode() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const loginCode = fragment.get("sso_code");
  if (loginCode) history.replaceState(null, "", location.pathname + location.search);
  return loginCode;
}

export async function exchange(ApiError, loginCode, code) {
  const body = { login_code: loginCode };
  if (code) body.code = code;
  const response = await fetch(EXCHANGE, {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin", // the binding cookie: the code works only in this browser
    cache: "no-store",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}
