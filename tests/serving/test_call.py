"""A request's state and the errors that end it: request ids, and errors mapped to statuses
along their class hierarchy."""

from __future__ import annotations

import re
import time

from shipyard.errors import ConfigError, InvalidInputError, NotFoundError, SignatureError
from shipyard.serving.call import STATUS, new_request_id, status_for


def test_server_made_request_ids_are_unique_and_time_ordered() -> None:
    """32 lower-case hex digits: the millisecond first (never going back), then the process's
    random part, then a counter; each id differs from every other."""
    ids = []
    for _ in range(3):
        ids += [new_request_id() for _ in range(500)]
        time.sleep(0.002)  # a new millisecond: its prefix is made again
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    millis = [int(i[:12], 16) for i in ids]
    assert millis == sorted(millis) and len(set(millis)) >= 3
    assert abs(millis[-1] - time.time_ns() // 1_000_000) < 60_000
    assert len({i[12:22] for i in ids}) == 1  # one process, one random part


def test_errors_map_to_statuses_along_their_class_hierarchy() -> None:
    class UnknownFeature(SignatureError):  # a subclass takes its parent's status
        pass

    assert status_for(SignatureError("x")) == 422
    assert status_for(UnknownFeature("x")) == 422
    assert issubclass(SignatureError, InvalidInputError)  # and the nearest class wins
    assert status_for(InvalidInputError("x")) == 400
    assert status_for(NotFoundError("x")) == 404
    assert status_for(ConfigError("x")) == 500  # not a client's doing: no 4xx
    assert status_for(ValueError("x")) == 500
    assert set(STATUS.values()) <= {400, 403, 404, 409, 422, 503}
