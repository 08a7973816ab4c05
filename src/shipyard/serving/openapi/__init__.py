"""``GET /openapi.json`` and ``GET /docs``: the server described as an OpenAPI 3.1 document.

The document is generated from what the server serves: every route of the app, with each
served endpoint's model routes as concrete paths (``/v2/models/churn/infer``), so that each
inference operation carries request schemas derived from that endpoint's signature (feature
names, types, nullability) and an example row. A model not loaded yet gets the generic shapes.
The shapes of the Open Inference Protocol follow the official OIP REST schemas (embedded below,
as the package cannot read them at run time), with ``null`` allowed in tensor data where the
server accepts it (a missing value).

``/docs`` is one self-contained HTML page (``static/docs.html``: inline script and style, no
external URL) that fetches ``/openapi.json`` and lists each operation with its schemas and a
"try it" form. Both routes follow the auth rules of any other GET (``read`` scope when auth is
on).
"""

from __future__ import annotations

from shipyard.serving.openapi.components import DOCS_CONTENT_TYPE, DOCS_CSP
from shipyard.serving.openapi.document import build_document, docs_page, render

__all__ = ["DOCS_CONTENT_TYPE", "DOCS_CSP", "build_document", "docs_page", "render"]
