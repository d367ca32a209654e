"""What the sectioned reproductions (patel2021, arbabi2020) share: running the chosen sections into a
results folder (results.json, results.md, figures, written atomically), re-rendering from results.json,
the targets table and the figure saver."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

from .._atomic import write_json_atomic, write_text_atomic

Runner = Callable[[dict, Path, Callable, bool], dict]


def fmt(v) -> str:
    """A value of results.json, short: floats to 3 significant digits, lists and dicts item by item."""
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, list):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {fmt(x)}" for k, x in v.items()) + "}"
    return str(v)


def targets_table(results: dict) -> list[str]:
    """The markdown lines of the ``## Targets`` table: every section's targets, met or not."""
    lines = ["## Targets", "", "| section | target | value | met |", "|---|---|---|---|"]
    for sec, r in results["sections"].items():
        for name, t in r.get("targets", {}).items():
            met = "met" if t["met"] else "NOT met"
            if "every_seed_met" in t:  # judged on one kept fit of several seeds
                met += "; every seed: " + ("met" if t["every_seed_met"] else "not")
            lines.append(f"| {sec} | {name} | {fmt(t['value'])} | {met} |")
    return lines


def figure_saver(out: Path):
    """``(plt, save, written)`` for writing figures into ``out`` (``save(fig, name)`` lays the figure
    out, writes it at 110 dpi, closes it and records its name in ``written``); None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    written: list[str] = []

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        written.append(name)

    return plt, save, written


def run_sections(paper: str, out_dir: str | Path, config: Any, cfg: dict, runners: dict[str, Runner], *,
                 choices: list[str], figures: Callable[[dict, Path], list[str]], markdown: Callable[[dict], str],
                 progress: bool) -> dict:
    """Runs ``cfg["sections"]`` (each ``runners[sec](cfg, out, log, progress)``, timed) into ``out_dir``
    and writes results.json, the figures and results.md; the command that made them is recorded."""
    log = print if progress else (lambda *a, **k: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    command = (" ".join(["coarsegrain", "reproduce", paper, *sys.argv[3:]])
               if sys.argv[1:3] == ["reproduce", paper] else f"{paper}.run(config={config!r})")
    results: dict[str, Any] = {"command": command, "config": cfg, "sections": {}, "choices": choices}
    start = time.perf_counter()
    for sec in cfg["sections"]:
        t0 = time.perf_counter()
        log(f"{paper} §{sec}")
        results["sections"][sec] = runners[sec](cfg, out, log, progress)
        results["sections"][sec]["seconds"] = time.perf_counter() - t0
    results["seconds"] = time.perf_counter() - start
    results["figures"] = figures(results, out)
    write_json_atomic(out / "results.json", results, indent=1)
    write_text_atomic(out / "results.md", markdown(results))
    log(f"wrote {out / 'results.json'}, results.md and {len(results['figures'])} figures ({results['seconds']:.0f} s)")
    return results


def render(out_dir: str | Path, figures: Callable[[dict, Path], list[str]], markdown: Callable[[dict], str]) -> None:
    """Rewrites results.md and the figures of ``out_dir`` from its results.json."""
    out = Path(out_dir)
    results = json.loads((out / "results.json").read_text())
    results["figures"] = figures(results, out)
    write_text_atomic(out / "results.md", markdown(results))
