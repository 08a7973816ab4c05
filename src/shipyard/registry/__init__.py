"""What a model version is and where it lives.

``entities`` (pure records), ``refs`` (names and references), ``signature`` and ``profile`` (pure
functions of data), ``artifacts`` (the content-addressed byte store), ``schema``/``engine``/``store``
(the SQL metadata store and its migrations), ``audit`` (the hash chain), ``client`` (the
:class:`Registry` facade the public API is built on).
"""
