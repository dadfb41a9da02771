"""The main job on the embedded default: world → init → ingest → inventory → where to look.

``syncline demo DIR`` writes the generated farm world to ``DIR/world`` (data, manifest and the
ground truth that only tests and benchmarks read) and the project to ``DIR/project``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console


def run_demo(path: Path, *, seed: int = 7, console: Console | None = None) -> dict[str, Any]:
    from syncline.demo.world import generate_world
    from syncline.ingest import ingest
    from syncline.inventory import build_inventory
    from syncline.project import init_project
    from syncline.report_text import print_ingest, print_inventory

    say = console.print if console else (lambda *a, **k: None)
    t0 = time.monotonic()
    path = Path(path)
    world_dir = path / "world"
    say(f"[bold]1/4[/bold] generating the farm world (seed {seed}) in {world_dir} …")
    world = generate_world(world_dir, seed=seed)
    t_world = time.monotonic() - t0
    say(f"      done in {t_world:.1f} s")

    project_dir = path / "project"
    say(f"[bold]2/4[/bold] syncline init {project_dir} --template farm")
    project = init_project(project_dir, template="farm")

    say(f"[bold]3/4[/bold] syncline ingest {world.out_dir / 'data'} --manifest {world.manifest_path}")
    summary = ingest(project, [world.out_dir / "data"], manifest_path=world.manifest_path)
    if console:
        print_ingest(console, summary)

    say("[bold]4/4[/bold] syncline inventory")
    inv = build_inventory(project)
    if console:
        print_inventory(console, inv)
    elapsed = time.monotonic() - t0
    say(f"\nfinished in {elapsed:.1f} s. Where to look next:")
    say(f"  • coverage plot:       {inv.png}")
    say(f"  • the catalog:         syncline inventory -p {project_dir} --json")
    say(f"  • the task spec:       {project.task_path}  (syncline task check -p {project_dir})")
    say(f"  • quarantined files:   {len(summary.quarantined)} — each with its reason above")
    return {
        "world": str(world.out_dir), "project": str(project_dir), "elapsed_s": round(elapsed, 2),
        "world_s": round(t_world, 2), "ingest": summary.to_json(), "inventory": inv.to_json(),
    }
