"""Keying the response cache by user: a ``user_key`` that authenticates first."""

from __future__ import annotations

import hashlib
import hmac
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sweepcache.asgi import Scope

SECRET = b"change me"  # the key your app signs its session cookies with


def sign(user_id: str) -> str:
    """The session cookie your login endpoint sets: ``<user id>.<signature>``."""
    signature = hmac.new(SECRET, user_id.encode(), hashlib.sha256).hexdigest()
    return f"{user_id}.{signature}"


def user_of(scope: Scope) -> str | None:
    """The user a request's session cookie proves, or None (then the cache is bypassed)."""
    headers = scope.get("headers")
    if not isinstance(headers, list):
        return None
    for name, value in headers:
        if name == b"cookie":
            morsel = SimpleCookie(value.decode("latin-1")).get("session")
            if morsel is None:
                continue
            user_id, _, signature = morsel.value.rpartition(".")
            expected = hmac.new(SECRET, user_id.encode(), hashlib.sha256).hexdigest()
            if user_id and hmac.compare_digest(signature, expected):
                return user_id  # verified: every session of this user shares a partition
    return None


# app.add_middleware(CacheMiddleware, cache=responses, user_key=user_of)
