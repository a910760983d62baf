"""Body hashes of the sources' own answers: unchanged content costs no parsing (architecture step 4).

Conditional GET only helps sites that send ETag or Last-Modified; many branch sites send neither, so
each re-poll would parse the whole feed or list page again. The crawl keeps a hash of the source URL's
last answer that was parsed without a problem (Source.body_hash, written with the outcome by
crawlers/ledger.py); the same bytes again are recorded as not modified, exactly as a 304 is.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hub.db import Database
from hub.models import Source

if TYPE_CHECKING:  # crawlers/ledger.py imports body_digest from here
    from crawlers.ledger import SourceJob

logger = logging.getLogger(__name__)


def body_digest(body: bytes) -> str:
    """A short, fast hash of an answer's bytes (not a security measure: only our own pages compare)."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def read_body_hashes(database: Database, source_ids: Iterable[int]) -> dict[int, str]:
    """The stored body hash of each of ``source_ids`` that has one."""
    ids = list(source_ids)
    if not ids:
        return {}
    with database.session() as session:
        rows = session.execute(
            select(Source.id, Source.body_hash).where(Source.id.in_(ids), Source.body_hash.is_not(None))
        )
        return {source_id: digest for source_id, digest in rows if digest}


async def load_body_hashes(database: Database, jobs: list[SourceJob]) -> None:
    """Fill each job's ``body_hash`` (one query, off the event loop). If the store cannot answer, the
    jobs keep none: their answers are parsed, as before body hashes existed."""
    missing = [job for job in jobs if job.body_hash is None]
    if not missing:
        return

    def read() -> dict[int, str]:
        return read_body_hashes(database, [job.id for job in missing])

    try:
        found = await asyncio.get_running_loop().run_in_executor(None, read)
    except SQLAlchemyError:
        logger.warning("body hashes not read: every answer of this crawl is parsed", exc_info=True)
        return
    for job in missing:
        job.body_hash = found.get(job.id)
