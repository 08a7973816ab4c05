"""``shipyard build``: a container build context for one endpoint or model reference.

::

    OUT/
      Dockerfile         slim Python base, uid 10001, pinned requirements, HEALTHCHECK,
                         ENTRYPOINT shipyard serve REF --host 0.0.0.0 --port 8080
      requirements.txt   shipyard and exactly the extras the served flavors need, pinned
      shipyard.toml      non-secret settings (SHIPYARD_CONFIG)
      registry/          --store copy: SQLite + artifacts with exactly the served version(s)
      wheels/            optional local wheels (a shipyard wheel when no index has it)
      .dockerignore, README.md
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.errors import ConflictError, InvalidInputError
from shipyard.targets import container
from shipyard.targets.requirements import extras_for, pinned_requirements
from shipyard.targets.served import Served, resolve_target

if TYPE_CHECKING:
    from shipyard.registry.client import Registry

__all__ = ["BuildResult", "write_build_context"]


@dataclass(frozen=True)
class BuildResult:
    out: Path
    served: Served
    image: container.Image
    files: tuple[str, ...]


def write_build_context(
    registry: Registry,
    target: str,
    out: Path,
    *,
    store: str = "copy",
    wheels: tuple[Path, ...] = (),
) -> BuildResult:
    """Write the build context for ``target`` (an endpoint name or a model reference) into
    ``out``, which must not exist or be empty."""
    if store not in ("copy", "shared"):
        raise InvalidInputError(f"invalid --store {store!r}: use copy or shared")
    served = resolve_target(registry, target)
    for wheel in wheels:
        if wheel.suffix != ".whl" or not wheel.is_file():
            raise InvalidInputError(f"invalid --wheel {str(wheel)!r}: not a .whl file")
    pinned = pinned_requirements(extras_for(served.flavors, postgres=store == "shared"))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConflictError(
            f"--out {out} exists and is not an empty folder; give a new folder (the build "
            "context is written from scratch)"
        )
    image = container.Image(
        ref=served.ref,
        store="copy" if store == "copy" else "shared",
        shipyard_version=pinned.shipyard_version,
        extras=pinned.extras,
    )
    out.mkdir(parents=True, exist_ok=True)
    extras = f"[{','.join(pinned.extras)}]" if pinned.extras else ""
    requirements = pinned.text + f"shipyard{extras}=={pinned.shipyard_version}\n"
    settings = registry.settings
    files = {
        "Dockerfile": container.dockerfile(image),
        "requirements.txt": requirements,
        "shipyard.toml": container.settings_toml(
            allow_pickle="pickle" in served.flavors and settings.allow_pickle,
            trusted_types=settings.trusted_types,
            store=image.store,
        ),
        ".dockerignore": container.dockerignore(),
        "README.md": container.readme(image, tag=f"shipyard-{served.endpoint}:latest"),
        "wheels/README.txt": container.requirements_header_wheels(),
    }
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for wheel in wheels:
        shutil.copy2(wheel, out / "wheels" / wheel.name)
    if image.store == "copy":
        from shipyard.targets.snapshot import copy_served

        copy_served(registry, [served], out / "registry")
    written = sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and "sha256" not in p.parts
    )
    return BuildResult(out=out, served=served, image=image, files=tuple(written))
