"""One TLS context for every outbound HTTP client of the process.

httpx builds a context per client (certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``,
read again each time): about 20 ms, paid at every start of a service that opens a client. A
context is safe to share between clients; this one is built once, the way httpx builds it.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verification (``verify=True``, honouring ``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR``), built on first use."""
    return httpx.create_ssl_context()
