"""``xinlian sample serve|export``: the local sample federation of sites."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.context import cli_context
from samplenet.export import write_ground_truth, write_registry
from samplenet.generate import generate_network
from samplenet.server import serve_forever

app = typer.Typer(
    help="The sample network: a local federation of unit sites on loopback.", no_args_is_help=True
)

Districts = Annotated[int | None, typer.Option(help="District sites (default: sample.districts).")]
Branches = Annotated[int | None, typer.Option(help="Branch sites per district (default: sample.branches).")]
Seed = Annotated[int | None, typer.Option(help="Random seed (default: sample.seed).")]


@app.command("serve")
def serve(
    ctx: typer.Context,
    districts: Districts = None,
    branches: Branches = None,
    seed: Seed = None,
    port: Annotated[int | None, typer.Option(help="Port (default: sample.port).")] = None,
    publish_every: Annotated[
        float | None, typer.Option(help="Publish a new item every N seconds while running.")
    ] = None,
) -> None:
    """Serve the sample network until Ctrl-C."""
    settings = cli_context(ctx).settings
    network = generate_network(
        districts if districts is not None else settings.sample.districts,
        branches if branches is not None else settings.sample.branches,
        seed if seed is not None else settings.sample.seed,
    )
    serve_forever(network, settings.sample.host, port or settings.sample.port, publish_every_s=publish_every)


@app.command("export")
def export(
    ctx: typer.Context,
    registry: Annotated[Path, typer.Option(help="Write the registry (YAML) the hub imports here.")],
    truth: Annotated[Path | None, typer.Option(help="Write the ground truth (JSON) here.")] = None,
    districts: Districts = None,
    branches: Branches = None,
    seed: Seed = None,
    port: Annotated[
        int | None, typer.Option(help="Port the network is served on (default: sample.port).")
    ] = None,
) -> None:
    """Export the network's definition: registry for import and ground truth for checks."""
    context = cli_context(ctx)
    settings = context.settings
    network = generate_network(
        districts if districts is not None else settings.sample.districts,
        branches if branches is not None else settings.sample.branches,
        seed if seed is not None else settings.sample.seed,
    )
    base_url = f"http://{settings.sample.host}:{port or settings.sample.port}"
    write_registry(registry, network, base_url)
    context.console.print(f"wrote {registry}")
    if truth is not None:
        write_ground_truth(truth, network, base_url)
        context.console.print(f"wrote {truth}")
