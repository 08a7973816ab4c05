"""The model server: protocol codecs, the canonical frame, model hosts and the ASGI app.

Nothing here is imported by ``import shipyard``; ``shipyard serve`` imports it when it runs.
"""
