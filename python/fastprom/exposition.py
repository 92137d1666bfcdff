"""prometheus_client's ``exposition`` module: its names, re-exported from where they live.

Rendering and content negotiation are in ``_render``, the servers in ``_server`` (Rust) and
``_wsgi``, the ASGI app in :mod:`fastprom.asgi`, the Pushgateway client in ``_push`` and
``write_to_textfile`` in ``_textfile``. This module defines nothing itself.
"""

from __future__ import annotations

from ._push import (
    basic_auth_handler,
    default_handler,
    delete_from_gateway,
    instance_ip_grouping_key,
    passthrough_redirect_handler,
    push_to_gateway,
    pushadd_to_gateway,
    tls_auth_handler,
)
from ._render import (
    CONTENT_TYPE_LATEST,
    CONTENT_TYPE_PLAIN_0_0_4,
    CONTENT_TYPE_PLAIN_1_0_0,
    choose_encoder,
    generate_latest,
    gzip_accepted,
)
from ._render import _bake_output as _bake_output  # prometheus_client has it; tests use it
from ._server import start_http_server
from ._textfile import write_to_textfile
from ._wsgi import MetricsHandler, ThreadingWSGIServer, make_wsgi_app, start_wsgi_server
from .asgi import make_asgi_app

__all__ = (
    "CONTENT_TYPE_LATEST",
    "CONTENT_TYPE_PLAIN_0_0_4",
    "CONTENT_TYPE_PLAIN_1_0_0",
    "delete_from_gateway",
    "generate_latest",
    "instance_ip_grouping_key",
    "make_asgi_app",
    "make_wsgi_app",
    "MetricsHandler",
    "push_to_gateway",
    "pushadd_to_gateway",
    "start_http_server",
    "start_wsgi_server",
    "write_to_textfile",
    "ThreadingWSGIServer",
    "basic_auth_handler",
    "choose_encoder",
    "default_handler",
    "gzip_accepted",
    "passthrough_redirect_handler",
    "tls_auth_handler",
)
