"""Files and images in messages: uploads (``services``), who may read them (``selectors``), the
sniffed type and the thumbnail (``sniff``, ``thumbnails``), the background task (``tasks``) and
the HTTP endpoints (``views``). Attachments live in the ``attachments`` storage (STORAGES), never
under MEDIA_ROOT: a private room's files are served only through the checked view."""
