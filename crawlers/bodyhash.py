"""Body hashes of the sources' own answers: unchanged content costs no parsing (architecture step 4).

Conditional GET only helps sites that send ETag or Last-Modified; many branch sites send neither, so
each re-poll would parse the whole feed or list page again. The crawl keeps a hash of the source URL's
last answer that was parsed without a problem (Source.body_hash, read with the job by
crawlers/process.py load_jobs, written with the outcome by crawlers/ledger.py); the same bytes again
are recorded as not modified, exactly as a 304 is.
"""

from __future__ import annotations

import hashlib


def body_digest(body: bytes) -> str:
    """A short, fast hash of an answer's bytes (not a security measure: only our own pages compare)."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()
