"""An example FastAPI service on PostgreSQL that caches with sweepcache.

It reproduces the patterns of a real service (ReViewPoint): a user repository
cached by id, by e-mail and by profile with tags, invalidated on update and
delete; ``get_or_load`` against stampedes; a list endpoint behind the HTTP
response cache; ``/metrics`` for Prometheus. See ``README.md`` beside this file.
"""

from .app import create_app as create_app
from .db import Database as Database
from .settings import Settings as Settings

__all__ = ("Database", "Settings", "create_app")
