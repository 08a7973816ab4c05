"""Every name in shipyard.__all__ resolves, and importing shipyard stays light."""

from __future__ import annotations

import subprocess
import sys

import shipyard


def test_all_exports_resolve() -> None:
    for name in shipyard.__all__:
        assert getattr(shipyard, name) is not None, name
    assert set(dir(shipyard)) >= set(shipyard.__all__)


def test_import_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys, shipyard; heavy = [m for m in ('numpy', 'pandas', 'sqlalchemy', 'sklearn', "
        "'onnxruntime', 'rich', 'alembic') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_all_matches_the_lazy_export_table() -> None:
    assert set(shipyard.__all__) == {"__version__", *shipyard._EXPORTS}
