"""The classification of every stored column (docs/privacy.md).

A test walks the live schema against ``REGISTRY``: a new column fails it until it is
classified here, a dropped one until its entry goes.
"""

from __future__ import annotations

from lensguard.privacy.classes import Column, DataClass, Table
from lensguard.privacy.not_yet_encrypted import NOT_YET_ENCRYPTED as NOT_YET_ENCRYPTED  # noqa: PLC0414 - re-exported


def _p(why: str, note: str = "", retention: str | None = None) -> Column:
    return Column(DataClass.PERSONAL, why, note=note, retention=retention)


def _sealed(why: str) -> Column:
    return Column(DataClass.PERSONAL, why, encrypted=True, note=SEALED)


def _s(why: str, encrypted: bool = False, note: str = "") -> Column:
    return Column(DataClass.SENSITIVE, why, encrypted=encrypted, note=note)


def _u(why: str) -> Column:
    return Column(DataClass.PUBLIC, why)


_ACCOUNT = "kept while the account exists"
_CREATED = _u("when the row was written")
_USER_REF = "names the user it concerns (a users.id)"
HASHED = "stored only as a one-way hash"
SEALED = "sealed field by field, AES-256-GCM under a field data key (keyring/fields.py)"
_ERASABLE = "kept with the entry until erased on request (personal_erased)"
_CLEAR_ONLY = "in clear only on entries without a subject (no actor id) and before 0023"


def _shreddable(why: str) -> Column:
    return Column(
        DataClass.PERSONAL,
        why,
        encrypted=True,
        retention="unreadable once erased: erasure shreds the subject key",
        note="sealed under the subject's key (AES-256-GCM)",
    )


REGISTRY: dict[str, Table] = {
    "users": Table(
        purpose="Operator accounts: sign-in, roles and the sites and devices each may touch.",
        retention=_ACCOUNT,
        columns={
            "id": _p("stable account id that other rows refer to"),
            "username": _p("the name the person signs in with and is shown as"),
            "username_skeleton": _p("folded username that stops look-alike names"),
            "password_hash": _s("verifies the password", note=HASHED),
            "role": _u("what the account may do"),
            "disabled": _u("a disabled account cannot sign in"),
            "must_change_password": _u("forces a new password at next sign-in"),
            "sites": _u("sites the account may touch"),
            "devices": _u("devices the account may touch"),
            "totp_secret": _s("second factor seed", encrypted=True, note="wrapped key"),
            "totp_pending": _s("seed being enrolled", encrypted=True, note="wrapped key"),
            "totp_last_step": _u("stops a TOTP code being replayed"),
            "email_sealed": _sealed("e-mail address: signs in, reaches the person"),
            "email_index": Column(
                DataClass.PERSONAL,
                "finds the account by e-mail at sign-in; one account per address",
                encrypted=True,
                note="keyed HMAC blind index of the normalised address, not reversible",
            ),
            "display_name_sealed": _sealed("the name the console shows"),
            "phone_sealed": _sealed("number SMS alerts go to"),
            "fields_version": _u("the field data key the row is sealed under"),
            "password_login": _u("whether the account may sign in with a password"),
            "created_at": _CREATED,
            "updated_at": _u("when the account last changed"),
        },
    ),
    "login_sessions": Table(
        purpose="Signed-in browser sessions, so that a user can see and revoke them.",
        retention="until the session expires or is revoked; kept while the account exists",
        columns={
            "id": _u("session id"),
            "user_id": _p(_USER_REF),
            "created_at": _CREATED,
            "last_used_at": _p("when the person last used the session"),
            "expires_at": _u("end of the session"),
            "revoked_at": _u("when it was revoked"),
            "revoked_reason": _u("why it was revoked"),
            "client_address": _p("in clear only in sessions from before field encryption"),
            "user_agent": _p("in clear only in sessions from before field encryption"),
            "client_address_sealed": _sealed("IP address the session signed in from"),
            "user_agent_sealed": _sealed("browser the session signed in with"),
            "fields_version": _u("the field data key the row is sealed under"),
        },
    ),
    "oidc_identities": Table(
        purpose="Links an account to its identity at a single sign-on provider.",
        retention=_ACCOUNT + "; an admin may unlink it",
        columns={
            "id": _u("link id"),
            "user_id": _p(_USER_REF),
            "provider": _u("which configured provider"),
            "issuer": _u("the provider's issuer URL"),
            "subject": _p("the person's identifier at the provider (pseudonymous)"),
            "created_at": _CREATED,
            "last_login_at": _p("when the person last signed in through it"),
        },
    ),
    "oidc_sessions": Table(
        purpose="The provider session a login came from, so the provider can end it.",
        retention="with its login session",
        columns={
            "session_id": _u("the login session"),
            "issuer": _u("the provider's issuer URL"),
            "subject": _p("the person's identifier at the provider (pseudonymous)"),
            "sid": _p("the provider's session id, looked up by back-channel logout"),
            "mfa_by_provider": _u("whether the provider proved the second factor"),
            "created_at": _CREATED,
        },
    ),
    "refresh_tokens": Table(
        purpose="Rotating refresh tokens of a session; reuse revokes the session.",
        retention="with its login session",
        columns={
            "id": _u("token id"),
            "session_id": _u("the session it belongs to"),
            "token_hash": _s("verifies the token", note=HASHED),
            "parent_id": _u("token it replaced, for reuse detection"),
            "created_at": _CREATED,
            "used_at": _u("when it was exchanged"),
        },
    ),
    "recovery_codes": Table(
        purpose="One-time recovery codes for a lost second factor.",
        retention=_ACCOUNT,
        columns={
            "id": _u("code id"),
            "user_id": _p(_USER_REF),
            "code_hash": _s("verifies the code", note=HASHED),
            "created_at": _CREATED,
            "used_at": _u("when it was used"),
        },
    ),
    "api_keys": Table(
        purpose="Keys for scripts and devices, with scopes and a rate limit.",
        retention="until revoked or expired; kept while the owner exists",
        columns={
            "id": _u("key id"),
            "name": _u("label the owner chose"),
            "owner_user_id": _p(_USER_REF),
            "owner_device_id": _u("device that owns the key"),
            "secret_hash": _s("verifies the key", note=HASHED),
            "scopes": _u("what the key may do"),
            "rate_limit_per_minute": _u("its request limit"),
            "created_at": _CREATED,
            "expires_at": _u("end of validity"),
            "last_used_at": _u("when the key was last used"),
            "revoked_at": _u("when it was revoked"),
        },
    ),
    "devices": Table(
        purpose="Registered robots and cameras.",
        retention="kept while the device is registered",
        columns={
            "id": _u("device id"),
            "name": _u("device name"),
            "site": _u("site the device belongs to"),
            "kind": _u("robot or camera"),
            "capabilities": _u("what the device can stream"),
            "created_at": _CREATED,
            "last_seen_at": _u("last contact from the device"),
        },
    ),
    "stream_settings": Table(
        purpose="Per-stream settings: models, face redaction, quality, recording mode.",
        retention="kept while the device is registered",
        columns={
            "device_id": _u("device"),
            "name": _u("stream name"),
            "ai_models": _u("models run on the stream"),
            "redact_faces": _u("whether faces are blurred"),
            "resolution": _u("resolution"),
            "bitrate": _u("bitrate"),
            "recording_mode": _u("off, continuous or on_event"),
            "pre_roll_seconds": _u("pre-roll of on_event recording"),
            "post_roll_seconds": _u("post-roll of on_event recording"),
            "segment_seconds": _u("segment length"),
            "updated_at": _u("last change"),
        },
    ),
    "site_policies": Table(
        purpose="Per-site defaults for redaction, models and recording.",
        retention="kept while the site is configured",
        columns={
            "site": _u("site"),
            "redact_faces": _u("whether faces are blurred"),
            "ai_models": _u("models allowed"),
            "recording_mode": _u("default recording mode"),
            "pre_roll_seconds": _u("default pre-roll"),
            "post_roll_seconds": _u("default post-roll"),
            "segment_seconds": _u("default segment length"),
            "record_raw": _u("whether unredacted video may be recorded"),
            "updated_at": _u("last change"),
        },
    ),
    "site_retention": Table(
        purpose="Per-site retention days for recordings.",
        retention="kept while the site is configured",
        columns={
            "site": _u("site"),
            "continuous_days": _u("days continuous video is kept"),
            "event_days": _u("days event video is kept"),
            "export_days": _u("days exports are kept"),
            "updated_by": _p("who changed the retention (accountability)"),
            "updated_at": _u("last change"),
        },
    ),
    "redaction_overrides": Table(
        purpose="Time-boxed permission for a user to see a stream unredacted.",
        retention="kept for accountability after it ends; the audit chain keeps the decision",
        columns={
            "id": _u("override id"),
            "device_id": _u("device"),
            "user_id": _p(_USER_REF),
            "reason": _p("free-text justification; may name people"),
            "granted_at": _u("start"),
            "expires_at": _u("end"),
            "ended_at": _u("early end"),
        },
    ),
    "recording_demands": Table(
        purpose="Who is watching a device live, so that on-demand recording runs.",
        retention="while the viewer watches",
        columns={
            "device_id": _u("device"),
            "user_id": _p(_USER_REF),
            "since": _p("since when the person has been watching"),
        },
    ),
    "revocations": Table(
        purpose="Revoked tokens and one-time values until they would have expired.",
        retention="until expires_at",
        columns={
            "key": _u("what is revoked (token id or nonce)"),
            "value": _u("revocation marker"),
            "expires_at": _u("when the row can go"),
        },
    ),
    "recording_segments": Table(
        purpose="Index of recorded video segments; the video (people on camera) is in the "
        "segment store, each segment encrypted with its own key.",
        retention="recordings.retention: days per class (continuous, event, export) per "
        "site, legal holds aside",
        where=("database", "segment_store"),
        columns={
            "id": _u("segment id"),
            "recording_id": _u("recording it belongs to"),
            "seq": _u("order within the recording"),
            "device_id": _u("device that recorded it"),
            "stream": _u("stream"),
            "kind": _u("retention class"),
            "started_at": _u("start"),
            "ended_at": _u("end"),
            "bytes": _u("size"),
            "key_id": _u("which key-encryption key wraps its key"),
            "kek_version": _u("version of that key"),
            "wrapped_key": _s("the segment's data key", encrypted=True, note="wrapped key"),
            "digest": _u("hash of the stored segment (tamper evidence)"),
            "prev_digest": _u("hash of the previous segment (chain)"),
            "created_at": _CREATED,
        },
    ),
    "recordings_open": Table(
        purpose="Recordings in progress and the node writing each.",
        retention="while the recording runs",
        columns={
            "recording_id": _u("recording"),
            "device_id": _u("device"),
            "stream": _u("stream"),
            "node_id": _u("node writing it"),
            "started_at": _u("start"),
        },
    ),
    "recording_playbacks": Table(
        purpose="Who played back which recorded range (accountability).",
        retention="kept with the recordings it covers; the audit chain keeps the access",
        columns={
            "id": _u("playback id"),
            "viewer_id": _p("the person who played it back"),
            "device_id": _u("device"),
            "stream": _u("stream"),
            "starts_at": _u("range start"),
            "ends_at": _u("range end"),
            "grant_id": _u("grant that allowed it"),
            "created_at": _CREATED,
            "expires_at": _u("end of the playback window"),
            "ended_at": _u("when it ended"),
        },
    ),
    "recording_grants": Table(
        purpose="Time-boxed access to recorded ranges for a user.",
        retention="until revoked or expired; kept for accountability",
        columns={
            "id": _u("grant id"),
            "device_id": _u("device"),
            "starts_at": _u("range start"),
            "ends_at": _u("range end"),
            "user_id": _p(_USER_REF),
            "role": _u("role granted"),
            "created_by": _p("who granted it"),
            "created_at": _CREATED,
            "expires_at": _u("end of the grant"),
            "revoked_at": _u("when it was revoked"),
        },
    ),
    "legal_holds": Table(
        purpose="Recorded ranges retention must not delete.",
        retention="kept after release for accountability",
        columns={
            "id": _u("hold id"),
            "device_id": _u("device"),
            "site": _u("site"),
            "range_start": _u("range start"),
            "range_end": _u("range end"),
            "reason": _p("free-text reason; may name people or cases"),
            "created_by": _p("who placed the hold"),
            "created_at": _CREATED,
            "released_at": _u("when it was released"),
            "released_by": _p("who released it"),
            "release_reason": _p("free-text reason; may name people or cases"),
        },
    ),
    "incidents": Table(
        purpose="Security incidents: grouped detections and their handling (docs/threats.md).",
        retention="kept until deleted by an officer (evidence of how an incident was run)",
        where=("database",),
        columns={
            "id": _u("incident id"),
            "kind": _u("playbook kind"),
            "title": _p("free text; may name people", retention="with the incident"),
            "severity": _u("severity"),
            "state": _u("where the incident stands"),
            "group_key": _p("source address and principal the detections were about"),
            "address": _p("the source address the detections were about"),
            "principal": _p("the account the detections were about"),
            "owner_id": _p("the officer who owns it (a users.id)"),
            "opened_by": _p("who opened it by hand (a users.id)"),
            "opened_at": _CREATED,
            "last_seen_at": _u("newest detection"),
            "acknowledged_at": _u("first handled"),
            "notify_by": _u("notification deadline"),
            "escalation_level": _u("escalation levels alerted"),
            "escalated_at": _u("last escalation"),
            "detections": _u("count"),
            "entries": _u("count"),
        },
    ),
    "incident_entries": Table(
        purpose="Incident timelines; every entry is also in the audit chain.",
        retention="with its incident",
        where=("database",),
        columns={
            "id": _u("entry id"),
            "incident_id": _u("its incident"),
            "n": _u("position"),
            "at": _u("when"),
            "kind": _u("what kind of entry"),
            "actor": _p("who acted (a users.id; NULL for the system)"),
            "body": _p("detections, comments and notes; may name people"),
        },
    ),
    "incident_attachments": Table(
        purpose="Evidence files of incidents: what each is; the content is in the segment store.",
        retention="with its incident",
        where=("database", "segment_store"),
        columns={
            "id": _u("attachment id"),
            "incident_id": _u("its incident"),
            "name": _p("in clear only in rows from before migration 0028"),
            "name_sealed": _sealed("the file's name; may name people"),
            "fields_version": _u("the field data key the row is sealed under"),
            "media_type": _u("the type its content is"),
            "size": _u("size"),
            "sha256": _u("hash of the file"),
            "key_id": _u("the file's data key id"),
            "kek_version": _u("version of the key-encryption key"),
            "wrapped_key": _s("the file's data key", encrypted=True, note="wrapped key"),
            "added_by": _p("who added it (a users.id; NULL from the shell)"),
            "added_at": _u("when"),
        },
    ),
    "recording_exports": Table(
        purpose="Signed evidence exports of recorded ranges.",
        retention="recordings.retention export days (site_retention.export_days)",
        where=("database", "segment_store"),
        columns={
            "id": _u("export id"),
            "device_id": _u("device"),
            "stream": _u("stream"),
            "starts_at": _u("range start"),
            "ends_at": _u("range end"),
            "reason": _p("free-text reason; may name people or cases"),
            "created_by": _p("who exported it"),
            "created_at": _CREATED,
            "kid": _u("signing key"),
            "bytes": _u("size"),
            "digest": _u("hash of the export"),
            "key_id": _u("which key-encryption key wraps its key"),
            "kek_version": _u("version of that key"),
            "wrapped_key": _s("the export's data key", encrypted=True, note="wrapped key"),
        },
    ),
    "signing_keys": Table(
        purpose="Keys that sign tokens.",
        retention="kept after retirement while tokens it signed may be checked",
        columns={
            "kid": _u("key id"),
            "algorithm": _u("algorithm"),
            "public_jwk": _u("public key"),
            "private_key_wrapped": _s("private key", encrypted=True, note="wrapped key"),
            "created_at": _CREATED,
            "retired_at": _u("when it stopped signing"),
        },
    ),
    "evidence_keys": Table(
        purpose="Keys that sign evidence exports.",
        retention="kept after retirement while exports it signed may be checked",
        columns={
            "kid": _u("key id"),
            "public_jwk": _u("public key"),
            "private_key_wrapped": _s("private key", encrypted=True, note="wrapped key"),
            "created_at": _CREATED,
            "retired_at": _u("when it stopped signing"),
        },
    ),
    "secret_kept_keys": Table(
        purpose="Sub-keys kept across a master-secret rotation.",
        retention="until the rotation that needs them finishes",
        columns={
            "purpose": _u("what the key is for"),
            "wrapped": _s("the key", encrypted=True, note="wrapped key"),
            "created_at": _CREATED,
        },
    ),
    "field_keys": Table(
        purpose="Data keys personal fields are sealed under, and the blind-index key.",
        retention="a data key is retired (its bytes cleared) once no row is sealed under it",
        columns={
            "purpose": _u("data key or blind-index key"),
            "version": _u("key version"),
            "wrapped": _s("the key", encrypted=True, note="wrapped key"),
            "created_at": _CREATED,
            "retired_at": _u("when the key was retired"),
        },
    ),
    "pki_certificates": Table(
        purpose="What the internal CA issued (never a key): for lists, expiry alerts, audit.",
        retention="kept as a record of issuance; a revoked serial stays in the lists",
        columns={
            "serial": _u("certificate serial number"),
            "kind": _u("server or device"),
            "common_name": _u("host or device name in the certificate"),
            "names": _u("DNS names and addresses of a server certificate"),
            "device_id": _u("the device a client certificate names"),
            "fingerprint": _u("SHA-256 of the certificate"),
            "not_before": _u("start of validity"),
            "not_after": _u("end of validity"),
            "issued_at": _u("when it was signed"),
            "revoked_at": _u("when it was revoked"),
            "revoke_reason": _u("why it was revoked"),
            "warned_at": _u("when the expiry alert went out"),
        },
    ),
    "pki_crls": Table(
        purpose="Signed certificate revocation lists; the highest number is in force.",
        retention="kept; each list is small and public",
        columns={
            "number": _u("list number"),
            "pem": _u("the signed list"),
            "issued_at": _u("when it was signed"),
            "next_update": _u("when it lapses"),
        },
    ),
    "secret_rotations": Table(
        purpose="Progress of master-secret rotations.",
        retention="kept as a record of rotations",
        columns={
            "id": _u("rotation id"),
            "old_fingerprint": _u("fingerprint of the old secret"),
            "new_fingerprint": _u("fingerprint of the new secret"),
            "state": _u("state"),
            "step": _u("step"),
            "cursor": _u("resume point"),
            "moved": _u("rows re-wrapped"),
            "unreadable": _u("rows that could not be read"),
            "started_at": _u("start"),
            "finished_at": _u("end"),
        },
    ),
    "audit_log": Table(
        purpose="Tamper-evident record of security-relevant actions (hash chain).",
        retention="privacy.retention.audit_days (180) after the entry, pruned behind a signed "
        "anchor (open incidents, legal holds and stored recordings keep more); personal "
        "fields can be erased earlier, leaving personal_digest",
        where=("database", "audit_checkpoints"),
        columns={
            "seq": _u("position in the chain"),
            "ts": _u("when it happened"),
            "actor_type": _u("user, api key, device or system"),
            "actor_ref": _u("kind of reference"),
            "actor_id": _p("who acted", retention=_ERASABLE),
            "actor_name": _p(
                "name of who acted, as it was then", retention=_ERASABLE, note=_CLEAR_ONLY
            ),
            "source_address": _p(
                "IP address the action came from", retention=_ERASABLE, note=_CLEAR_ONLY
            ),
            "actor_name_sealed": _shreddable("name of who acted, as it was then"),
            "source_address_sealed": _shreddable("IP address the action came from"),
            "actor_name_index": _s(
                "finds a sealed name in audit queries", note="keyed hash; blanked on erasure"
            ),
            "personal_digest": _u("hash of the personal fields, so erasure keeps the chain"),
            "personal_erased": _u("whether the personal fields were erased"),
            "action": _u("what was done"),
            "resource_type": _u("kind of thing acted on"),
            "resource_id": _u("thing acted on"),
            "outcome": _u("allowed, denied or failed"),
            "details": _p(
                "structured details; may name people",
                note="the keys in audit.personal_details are sealed (details_sealed) when the "
                "entry is about a user or by an actor with an id; in clear otherwise",
            ),
            "details_ref": _u("whose key seals the personal details (a keyed pseudonym)"),
            "details_sealed": _shreddable("personal values named in the details"),
            "details_digest": _u("hash of the sealed details, so erasure keeps the chain"),
            "prev_hash": _u("hash of the previous entry"),
            "entry_hash": _u("hash of this entry"),
        },
    ),
    "audit_subject_keys": Table(
        purpose="Per-subject keys that seal personal audit fields (crypto-shredding).",
        retention="until the subject is erased: erasure deletes the key",
        columns={
            "subject": _u("the subject's keyed pseudonym (audit_log.actor_ref)"),
            "wrapped": _s("the subject's data key", encrypted=True, note="wrapped key"),
            "created_at": _CREATED,
        },
    ),
    "audit_head": Table(
        purpose="The audit chain's head, so appends stay linear.",
        retention="kept for good",
        columns={
            "id": _u("single row"),
            "last_seq": _u("last position"),
            "last_hash": _u("last hash"),
        },
    ),
    "erasure_requests": Table(
        purpose=(
            "Requests to erase an account's personal data, or the recorded video of a"
            " device or site over a time range, approved by a second person."
        ),
        retention="kept for good: the proof that a request was answered",
        columns={
            "id": _u("request id"),
            "kind": _u("account or recordings"),
            "user_id": _u("the erased account's random id (names no one once erased)"),
            "device_id": _u("recordings: the device whose video is erased"),
            "site": _u("recordings: the site whose devices' video is erased"),
            "range_start": _u("recordings: start of the erased time range"),
            "range_end": _u("recordings: end of the erased time range"),
            "segments": _u("recordings: segments shredded so far"),
            "bytes": _u("recordings: their stored bytes"),
            "reason": _p("free-text reason; may name people or cases"),
            "state": _u("pending or done"),
            "requested_by": _p("who asked (a users.id)"),
            "requested_at": _CREATED,
            "approved_by": _p("who approved (a users.id)"),
            "approved_at": _u("when it was approved"),
            "finished_at": _u("when the erasure finished"),
            "certificate": _u("the signed certificate of erasure (counts, ids, times)"),
        },
    ),
    "audit_anchors": Table(
        purpose="Signed statements that the audit log was pruned up to an entry (retention).",
        retention="kept for good: verification starts from the newest",
        columns={
            "seq": _u("last pruned position"),
            "entry_hash": _u("hash at that position"),
            "ts": _u("when it was signed"),
            "signature": _u("signature"),
            "key_id": _u("signing key"),
        },
    ),
    "audit_checkpoints": Table(
        purpose="Signed checkpoints of the audit chain.",
        retention="kept for good; also appended to the checkpoints file",
        where=("database", "audit_checkpoints"),
        columns={
            "seq": _u("position checkpointed"),
            "entry_hash": _u("hash at that position"),
            "ts": _u("when it was signed"),
            "signature": _u("signature"),
            "key_id": _u("signing key"),
        },
    ),
}
