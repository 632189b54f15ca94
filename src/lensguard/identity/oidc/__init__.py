"""Single sign-on through OpenID Connect providers (docs/sso.md).

``room`` builds what the app holds per provider; ``metadata`` caches discovery and
JWKS; ``tokens`` validates ID and logout tokens; ``flow`` runs the authorization-code
flow with PKCE; ``linking`` finds or creates the account; ``logout`` handles
back-channel and RP-initiated logout.
"""
