"""Request and response models of the identity and access API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Username = Annotated[
    str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=128)]
NewPassword = Annotated[str, StringConstraints(min_length=12, max_length=128)]
# A TOTP code ("123456", "123 456") or a recovery code ("abcde-12345").
Code = Annotated[str, StringConstraints(min_length=6, max_length=16, pattern=r"^[A-Za-z0-9 -]+$")]
ScopeEntry = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._-]*)$"),
]
Permission = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z_]+$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_In):
    # Any printable name (old accounts may predate the stricter Username pattern), but
    # never control characters: they have no place in logs or the audit trail.
    username: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
    ]
    password: Password
    code: Code | None = Field(
        default=None, description="TOTP code (or a recovery code) when MFA is on"
    )


class RefreshRequest(_In):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name
    expires_in: int = Field(description="Access-token lifetime in seconds")
    session_id: str
    restrictions: list[str] = Field(
        description="Steps required before anything but self-service works "
        "(password_change, mfa_enrolment)"
    )


class PasswordChange(_In):
    current_password: Password
    new_password: NewPassword
    code: Code | None = Field(
        default=None,
        description="A one-time code; needed only while failed attempts lock the account",
    )
    revoke_api_keys: bool = Field(
        default=False,
        description="Also revoke every API key of yours (always done for a forced change)",
    )


class PasswordChanged(BaseModel):
    sessions_ended: int
    api_keys_revoked: int


class MfaEnrol(_In):
    password: Password
    code: Code | None = Field(
        default=None, description="Required when MFA is already on: a current or recovery code"
    )


class MfaEnrolment(BaseModel):
    secret: str
    otpauth_uri: str
    qr_code: str = Field(
        description="The otpauth URI as a QR code: an SVG data: URI for an <img> (shown once)"
    )


class MfaCode(_In):
    code: Code


class MfaEnabled(BaseModel):
    recovery_codes: list[str] = Field(
        description="One-time codes for when the authenticator is lost; shown only here"
    )


class MfaDisable(_In):
    password: Password
    code: Code = Field(description="A current code from the authenticator, or a recovery code")


Email = Annotated[
    str, Field(max_length=254, description="Sign-in address; stored sealed, found by blind index")
]
DisplayName = Annotated[str, Field(max_length=128, description="Name shown in the console")]
Phone = Annotated[
    str, Field(max_length=32, description="E.164 number for SMS alerts, e.g. +441632960961")
]


class ProfileFields(_In):
    """Personal fields (sealed at rest); in a change, ``null`` clears one, absent keeps it."""

    email: Email | None = None
    display_name: DisplayName | None = None
    phone: Phone | None = None

    def profile(self) -> dict[str, str | None]:
        """The personal fields this body names, None for those it clears."""
        names = ("email", "display_name", "phone")
        return {name: getattr(self, name) for name in names if name in self.model_fields_set}


class UserCreate(ProfileFields):
    username: Username
    password: NewPassword
    role: Annotated[str, StringConstraints(max_length=32)] | None = None
    sites: list[ScopeEntry] | None = Field(
        default=None, max_length=100, description="Default: the creator's own sites"
    )
    devices: list[ScopeEntry] | None = Field(
        default=None, max_length=1000, description="Default: the creator's own devices"
    )


class UserUpdate(ProfileFields):
    role: Annotated[str, StringConstraints(max_length=32)] | None = None
    disabled: bool | None = None
    sites: list[ScopeEntry] | None = Field(default=None, max_length=100)
    devices: list[ScopeEntry] | None = Field(default=None, max_length=1000)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    username: str
    role: str
    disabled: bool
    must_change_password: bool
    mfa_enabled: bool
    sites: list[str]
    devices: list[str]
    created_at: datetime
    email: str | None = None
    display_name: str | None = None
    phone: str | None = None


class Me(UserPublic):
    permissions: list[str]
    restrictions: list[str]


class SessionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    user_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    client_address: str | None
    user_agent: str | None
    current: bool = False


class RoleInfo(BaseModel):
    name: str
    permissions: list[str]


class RolesResponse(BaseModel):
    roles: list[RoleInfo]
    permissions: dict[str, str]


class ApiKeyCreate(_In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    scopes: list[Permission] = Field(min_length=1, max_length=32)
    expires_in_days: int = Field(default=365, ge=1, le=3650)
    rate_limit_per_minute: int = Field(default=600, ge=1, le=100_000)


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    owner_user_id: str | None
    scopes: list[str]
    rate_limit_per_minute: int
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked: bool


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The key itself; shown only in this response")


Name = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
DeviceKind = Literal["robot", "camera"]
Capability = Literal["video", "control", "ptz"]


def _video_only() -> list[Capability]:
    return ["video"]


class DeviceCreate(_In):
    name: Name
    site: Name
    kind: DeviceKind
    capabilities: list[Capability] = Field(default_factory=_video_only, max_length=3)


class DeviceUpdate(_In):
    site: Name | None = None
    capabilities: list[Capability] | None = Field(default=None, max_length=3)


class DevicePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    site: str
    kind: str
    capabilities: list[str]
    created_at: datetime
    last_seen_at: datetime | None = Field(description="When the device last started publishing.")
    online: bool = Field(
        description="Connected and publishing now, through any node (live presence; "
        "a device whose node vanished reads offline within 30 s)."
    )


class DeviceCredential(BaseModel):
    device: DevicePublic
    credential: str = Field(
        description="The device's API key (lg_…); shown only in this response. "
        "Store it on the device (lensguard agent --credential-file)."
    )


class DeviceToken(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name
    expires_in: int


class OidcProviderInfo(BaseModel):
    name: str
    label: str = Field(description="Text of the sign-in button")
    start_path: str = Field(description="Where the sign-in button sends the browser")


class OidcProviders(BaseModel):
    providers: list[OidcProviderInfo]


class OidcExchange(_In):
    login_code: str = Field(min_length=16, max_length=128)
    code: str | None = Field(default=None, max_length=32, description="TOTP or recovery code")


class OidcLogout(BaseModel):
    end_session_url: str | None = Field(
        description="Send the browser here to sign out at the provider too (None: not offered)"
    )


class BackchannelLogoutResult(BaseModel):
    sessions_ended: int


class LinkedIdentity(BaseModel):
    id: str
    provider: str
    issuer: str
    subject: str
    created_at: datetime
    last_login_at: datetime | None


class LinkedIdentities(BaseModel):
    password_login: bool = Field(description="Whether the account may sign in with a password")
    identities: list[LinkedIdentity]


class PasswordLogin(_In):
    enabled: bool
