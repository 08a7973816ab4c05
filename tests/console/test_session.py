"""Session cookies and CSRF tokens: signed, expiring, and useless once edited or re-signed."""

from __future__ import annotations

from shipyard.console.session import SessionCodec


def test_a_session_survives_the_round_trip() -> None:
    codec = SessionCodec(b"k" * 32)
    session = codec.new(1000.0, "abc123def456")
    loaded = codec.load(codec.dump(session), 1001.0)
    assert loaded == session
    assert codec.check_csrf(loaded, codec.csrf_token(session))


def test_forged_edited_and_expired_cookies_are_refused() -> None:
    codec = SessionCodec(b"k" * 32, max_age=60)
    session = codec.new(1000.0, None)
    value = codec.dump(session)
    payload, mac = value.split(".")
    assert codec.load(value, 1061.0) is None  # expired
    assert codec.load(payload + "." + mac[::-1], 1001.0) is None  # edited signature
    assert codec.load("x" + value[1:], 1001.0) is None  # edited payload
    assert codec.load(SessionCodec(b"o" * 32).dump(session), 1001.0) is None  # another secret
    for junk in ("", "nodot", "a.b.c", "%%%.!!!"):
        assert codec.load(junk, 1001.0) is None


def test_csrf_tokens_are_bound_to_the_session() -> None:
    codec = SessionCodec()
    one, two = codec.new(0.0), codec.new(0.0)
    assert one.sid != two.sid
    assert not codec.check_csrf(two, codec.csrf_token(one))
    assert not codec.check_csrf(one, "")
    assert not codec.check_csrf(None, codec.csrf_token(one))
