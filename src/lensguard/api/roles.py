"""``/api/v1/roles``: the policy in force."""

from __future__ import annotations

from fastapi import APIRouter

from lensguard.api.deps import ServicesDep, requires
from lensguard.api.problems import AUTHENTICATED, problems
from lensguard.api.schemas import RoleInfo, RolesResponse

router = APIRouter(prefix="/api/v1/roles", tags=["roles"], responses=problems(AUTHENTICATED))


@router.get("", dependencies=[requires("account_self")], summary="Roles and permissions")
async def roles(services: ServicesDep) -> RolesResponse:
    """Each role and the permissions it grants."""
    policy = services.policy
    return RolesResponse(
        roles=[RoleInfo(name=r, permissions=sorted(p)) for r, p in sorted(policy.roles.items())],
        permissions=dict(sorted(policy.permissions.items())),
    )
