"""The deployment options a user gives, parsed and checked before any file is written.

Every error names the option it is about (``--replicas``, ``--memory``, ...), so the CLI's one
line tells the user what to change. Pure: no registry, no files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shipyard.errors import InvalidInputError

__all__ = [
    "DeployOptions",
    "Replicas",
    "k8s_name",
    "parse_cpu",
    "parse_image",
    "parse_memory",
    "parse_namespace",
    "parse_predlog_mode",
    "parse_replicas",
]

# Kubernetes quantities: CPU as cores ("1", "0.5") or millicores ("500m"); memory as bytes with
# a binary or decimal suffix ("1Gi", "512Mi", "1G").
_CPU = re.compile(r"^(?:\d+(?:\.\d{1,3})?|\.\d{1,3}|\d+m)$")
_MEMORY = re.compile(r"^\d+(?:\.\d+)?(?:Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# An image reference: [registry[:port]/]path[:tag][@sha256:digest], lowercase path.
_IMAGE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)

MAX_REPLICAS = 1000
PREDLOG_MODES = ("durable", "buffered", "off")


@dataclass(frozen=True)
class Replicas:
    minimum: int
    maximum: int

    def __str__(self) -> str:
        return f"{self.minimum}..{self.maximum}"


@dataclass(frozen=True)
class DeployOptions:
    """What ``shipyard export`` needs beyond the endpoint: the image and its resources."""

    image: str
    replicas: Replicas = Replicas(2, 10)
    cpu: str = "1"
    memory: str = "1Gi"
    namespace: str | None = None
    startup_seconds: int = 300
    """How long a replica may take to load and warm its model before it is restarted."""
    in_flight_target: float | None = None
    """Average requests in flight per replica for the HPA's Prometheus metric; None: CPU only."""
    metrics_open: bool = False
    """Serve ``/metrics`` without an API key, for an in-cluster Prometheus scraper."""
    artifacts_url: str = ""
    predlog_mode: str = "durable"
    """``durable`` (answer once the record is committed) or ``buffered`` (flushed every second):
    durable by default because a cluster kills pods without asking (OOM, eviction, node loss) and
    a load balancer retries only unanswered requests, so buffered records lost in a SIGKILL are
    lost for good; buffered doubles each replica's req/s; ``off`` logs nothing (and needs no
    prediction-log URL). See docs/deploy.md."""


def parse_replicas(text: str) -> Replicas:
    """``"2..10"`` (autoscaled between 2 and 10) or ``"3"`` (exactly 3)."""
    low, sep, high = text.strip().partition("..")
    try:
        minimum = int(low)
        maximum = int(high) if sep else minimum
    except ValueError:
        raise InvalidInputError(
            f"invalid --replicas {text!r}: expected MIN..MAX, as in --replicas 2..10"
        ) from None
    if minimum < 1 or maximum > MAX_REPLICAS:
        raise InvalidInputError(
            f"invalid --replicas {text!r}: replicas must be between 1 and {MAX_REPLICAS}"
        )
    if minimum > maximum:
        raise InvalidInputError(
            f"invalid --replicas {text!r}: the minimum {minimum} is above the maximum "
            f"{maximum}; write it as {maximum}..{minimum}"
        )
    return Replicas(minimum, maximum)


def parse_cpu(text: str) -> str:
    value = text.strip()
    if not _CPU.match(value) or _cpu_millis(value) == 0:
        raise InvalidInputError(
            f"invalid --cpu {text!r}: expected cores or millicores, as in --cpu 1, 0.5 or 500m"
        )
    return value


def _cpu_millis(value: str) -> float:
    return float(value[:-1]) if value.endswith("m") else float(value) * 1000


def parse_memory(text: str) -> str:
    value = text.strip()
    if not _MEMORY.match(value) or float(re.sub(r"[A-Za-z]+$", "", value)) == 0:
        raise InvalidInputError(
            f"invalid --memory {text!r}: expected a Kubernetes quantity, as in --memory 1Gi "
            "or 512Mi"
        )
    return value


def parse_namespace(text: str | None) -> str | None:
    if text is None:
        return None
    if not _DNS_LABEL.match(text):
        raise InvalidInputError(
            f"invalid --namespace {text!r}: use 1-63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return text


def parse_predlog_mode(text: str) -> str:
    value = text.strip().lower()
    if value not in PREDLOG_MODES:
        raise InvalidInputError(
            f"invalid --predlog-mode {text!r}: use durable (no acknowledged prediction is lost), "
            "buffered (faster; a killed pod loses up to a second of records) or off (no log)"
        )
    return value


def parse_image(text: str) -> str:
    if not text or len(text) > 255 or not _IMAGE.match(text):
        raise InvalidInputError(
            f"invalid --image {text!r}: expected an image reference, as in "
            "--image registry.example.com/team/churn:1.0"
        )
    return text


def k8s_name(name: str) -> str:
    """A Kubernetes object name (a DNS-1035 label) for an endpoint: model names may hold '.'
    and '_', which object names may not, and must not start with a digit."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    return f"shipyard-{cleaned}"[:63].rstrip("-")
