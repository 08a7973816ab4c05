"""The README's screenshots of the web console, taken from a real server on the quickstart's data.

    .venv/bin/python scripts/console_screenshots.py [--out docs/images]

Runs the quickstart in a throwaway SHIPYARD_HOME (a minute or so), retrains a third churn
version and starts a canary of it at 20%, serves it on loopback with the console, sends single-
row predictions from a thread for a while, and opens the Deployment, Monitoring and Model pages
in Debian's headless Chromium (Playwright, as the browser tests drive it). Writes
``console-deployment.png``, ``console-monitoring.png`` and ``console-model.png``.
Needs chromium (``scripts/browser.sh`` installs it) and Playwright (``pip install -e .[dev]``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PLAN = {
    "steps": [20, 50, 100],
    "min_bake": "1h",  # holds at 20% while the pictures are taken
    "min_samples": 100000,
    "guardrails": {"max_error_rate": 0.05, "max_p99_latency_ms": 5000},
}


def _chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "browser.sh")], capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def _traffic(base: str, stop: threading.Event) -> None:
    import httpx

    from shipyard import datasets
    from shipyard.serving.background import v2_body

    rows = datasets.churn(50, seed=11).X
    bodies = [v2_body(rows.iloc[i : i + 1]) for i in range(len(rows))]
    with httpx.Client(timeout=30) as http:
        i = 0
        while not stop.is_set():
            http.post(f"{base}/v2/models/churn/infer", json=bodies[i % len(bodies)])
            i += 1
            time.sleep(0.004 + 0.004 * (i % 5))  # an uneven, lively rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--seconds", type=float, default=40.0, help="traffic before the shots")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    from sklearn.base import clone

    from shipyard import datasets, quickstart
    from shipyard.registry.client import Registry
    from shipyard.rollouts.controller import start_rollout
    from shipyard.rollouts.plan import RolloutPlan
    from shipyard.serving.background import BackgroundServer
    from shipyard.serving.server import build_app
    from shipyard.settings import Settings

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home) / "home")
        print("running the quickstart ...", file=sys.stderr)
        quickstart.run(settings, echo=lambda line: None)
        registry = Registry(settings)
        champion: Any = registry.load("churn@champion").native
        fresh = datasets.churn(4000, seed=23)
        candidate = registry.register(
            clone(champion).fit(fresh.X, fresh.y), "churn", reference=fresh.X, target=fresh.y
        )
        start_rollout(
            registry, "churn", candidate.version, share=20, plan=RolloutPlan.from_dict(PLAN)
        )
        app = build_app(registry, ["churn@champion"], rollout_interval=1.0)
        with BackgroundServer(app) as base:
            stop = threading.Event()
            sender = threading.Thread(target=_traffic, args=(base, stop), daemon=True)
            sender.start()
            print(f"serving on {base}; sending traffic for {args.seconds:g}s", file=sys.stderr)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=_chromium(), args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"{base}/ui/deployments/churn")
                time.sleep(args.seconds)
                page.screenshot(path=str(args.out / "console-deployment.png"), full_page=False)
                page.goto(f"{base}/ui/monitoring/churn")
                page.screenshot(path=str(args.out / "console-monitoring.png"), full_page=False)
                page.goto(f"{base}/ui/models/churn")
                page.screenshot(path=str(args.out / "console-model.png"), full_page=False)
                browser.close()
            stop.set()
            sender.join(30)
        registry.close()
    print(f"wrote {args.out}/console-*.png", file=sys.stderr)


if __name__ == "__main__":
    main()
