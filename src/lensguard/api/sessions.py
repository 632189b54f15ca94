"""``/api/v1/sessions``: list and end sign-in sessions (yours; anyone's for admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from lensguard.access.can import can
from lensguard.access.principal import Principal
from lensguard.api.deps import ServicesDep, authorize, requires
from lensguard.api.pages import PAGED, Listing, PageDep, stamp
from lensguard.api.problems import AUTHENTICATED, problems
from lensguard.api.schemas import SessionPublic
from lensguard.errors import NotFound
from lensguard.identity import login as flows
from lensguard.identity import refresh
from lensguard.identity.ownership import session_access
from lensguard.keyring import sealed
from lensguard.store.models import LoginSession

router = APIRouter(prefix="/api/v1/sessions", tags=["sessions"], responses=problems(AUTHENTICATED))
Self = Annotated[Principal, requires("account_self")]
LISTING: Listing[LoginSession] = Listing(
    "sessions", key=lambda s: (stamp(s.created_at), s.id), parts=(str, str), newest_first=True
)


def public(login: LoginSession, principal: Principal, seen: dict[str, str | None]) -> SessionPublic:
    return SessionPublic(
        id=login.id,
        user_id=login.user_id,
        created_at=login.created_at,
        last_used_at=login.last_used_at,
        expires_at=login.expires_at,
        client_address=seen["client_address"],
        user_agent=seen["user_agent"],
        current=login.id == principal.session_id,
    )


@router.get("", summary="List sign-in sessions", responses=PAGED | problems(422))
async def list_sessions(
    principal: Self,
    services: ServicesDep,
    page: PageDep,
    user_id: Annotated[str | None, Query(max_length=32, description="Admins: whose")] = None,
    all_users: Annotated[bool, Query(description="Admins: every user's sessions")] = False,
) -> list[SessionPublic]:
    """Your active sessions; admins may ask for those of a user or everyone they manage."""
    target: str | None = principal.id
    if all_users or (user_id is not None and user_id != principal.id):
        authorize(principal, "user_management")
        target = None if all_users else user_id
    async with services.db.sessions() as session:
        found = await refresh.list_sessions(session, user_id=target, now=services.clock.now())
        # Sessions of accounts beyond the caller's reach are left out, as if there were none.
        shown = [
            s
            for s in found
            if can(principal, *await session_access(services, session, principal, s))
        ]
        listed = LISTING.paginate(shown, page)
        return [
            public(s, principal, await sealed.read(services.fields, session, sealed.SESSIONS, s))
            for s in listed
        ]


@router.delete(
    "/{session_id}", status_code=204, summary="End a session", responses=problems(404, 422)
)
async def end(session_id: str, principal: Self, services: ServicesDep) -> Response:
    """End a session at once: yours, or one of an account you manage ("kill session")."""
    async with services.db.sessions() as session:
        login = await refresh.get_session(session, session_id=session_id)
        if login is None:
            raise NotFound("no such session")
        # Someone else's: only a manager of that account may end it; others learn nothing.
        action, resource = await session_access(services, session, principal, login)
    authorize(principal, action, resource, hide=True)
    reason = "logout" if login.user_id == principal.id else "killed_by_admin"
    await flows.end_session(services, session_id=session_id, reason=reason, by=principal)
    return Response(status_code=204)
