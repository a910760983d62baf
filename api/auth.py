"""Staff authentication for the JSON API: HTTP Basic checked against hub.users (argon2 hashes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from api.deps import DatabaseDep
from hub.models import User
from hub.users import authenticate

# auto_error=False: anonymous requests reach the routes, which decide what the public may see.
basic_scheme = HTTPBasic(auto_error=False, realm="xinlian")


def _unauthorized() -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="authentication required",
        headers={"WWW-Authenticate": 'Basic realm="xinlian"'},
    )


def optional_staff(
    database: DatabaseDep,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(basic_scheme)],
) -> User | None:
    """The staff user of this request, or None if anonymous; wrong credentials are a 401, not anonymous."""
    if credentials is None:
        return None
    with database.session() as session:
        user = authenticate(session, credentials.username, credentials.password)
    if user is None or not user.active:
        raise _unauthorized()
    return user


def require_staff(user: Annotated[User | None, Depends(optional_staff)]) -> User:
    """Any signed-in staff user (viewers included); 401 otherwise. Who may decide is moderation's rule."""
    if user is None:
        raise _unauthorized()
    return user


OptionalStaff = Annotated[User | None, Depends(optional_staff)]
Staff = Annotated[User, Depends(require_staff)]
