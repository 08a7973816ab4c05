"""Protocol codecs: pure functions from request bytes to columns, and from outputs to bytes."""
