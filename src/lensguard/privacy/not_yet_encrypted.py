"""The personal columns still stored in clear: the field-encryption work list.

``privacy.registry`` classifies every column; a personal one must be encrypted or
named here with its reason (the registry test checks both ways).
"""

from __future__ import annotations

NOT_YET_ENCRYPTED: frozenset[str] = frozenset(
    {
        # Field encryption of personal columns is open work (issue 14). Each entry here is
        # a personal column stored in clear in the database (the database file or server
        # may still be encrypted on disk). The field-encryption work removes entries; a new
        # personal column must be encrypted or listed here with its reason.
        "users.id",  # primary key other rows join on; pseudonymous id
        "users.username",  # looked up at sign-in
        "users.username_skeleton",  # looked up at sign-in
        "login_sessions.user_id",
        "login_sessions.last_used_at",
        # Sessions from before field encryption, until `lensguard privacy rekey` runs.
        "login_sessions.client_address",
        "login_sessions.user_agent",
        "recovery_codes.user_id",
        "oidc_identities.user_id",
        "oidc_identities.subject",  # looked up at every single sign-on
        "oidc_identities.last_login_at",
        "oidc_sessions.subject",  # looked up by back-channel logout
        "oidc_sessions.sid",  # looked up by back-channel logout
        "api_keys.owner_user_id",
        "site_retention.updated_by",
        "redaction_overrides.user_id",
        "redaction_overrides.reason",
        "recording_demands.user_id",
        "recording_demands.since",
        "recording_playbacks.viewer_id",
        "recording_grants.user_id",
        "recording_grants.created_by",
        "legal_holds.reason",
        "legal_holds.created_by",
        "legal_holds.released_by",
        "legal_holds.release_reason",
        "recording_exports.reason",
        "recording_exports.created_by",
        "incidents.title",
        "incidents.group_key",  # looked up to group detections
        "incidents.address",
        "incidents.principal",
        "incidents.owner_id",
        "incidents.opened_by",
        "incident_entries.actor",
        "incident_entries.body",
        "incident_attachments.name",  # rows from before 0028, until `privacy rekey` runs
        "incident_attachments.added_by",
        "audit_log.actor_id",  # hashed into the chain; erasable (personal_erased)
        # Sealed under the subject's key (actor_name_sealed, source_address_sealed) when
        # the entry has a subject; in clear only without one (an unknown sign-in name, a
        # refusal of an anonymous caller) and on entries written before migration 0023.
        "audit_log.actor_name",
        "audit_log.source_address",
        # The keys of audit.personal_details are sealed (details_sealed) from migration 0026
        # on, under the key of the user the entry is about or its actor; entries about no
        # one with an id, older entries and other keys (free-text reasons) stay in clear.
        "audit_log.details",
        "erasure_requests.reason",
        "erasure_requests.requested_by",
        "erasure_requests.approved_by",
    }
)
"""Personal columns stored unencrypted today: the field-encryption work list."""
