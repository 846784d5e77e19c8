"""The HTTP API at /api/v1/ (docs/api.md): thin over the same services and selectors as ``/ws/``.

Views are async and make the same crossings as the WebSocket consumer (parley.api.crossing): a
post joins the process's group commit (``batching.post_queue``), every other call runs on the
process's one database thread, so a burst of requests queues there instead of taking a pooled
connection each.
"""
