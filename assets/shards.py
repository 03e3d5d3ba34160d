"""Learner-sharded assets: the same asset as one step per learner shard (devmentor/shards.py), for any
per-learner stage (scoring, the learning engine, gamification), chosen by ``DEVMENTOR_SHARDS``.

A fan-out op yields the shards, each runs in its own step (the multiprocess, Celery or Kubernetes executor
spreads them), and one step combines them into the single lake output, equal to the unsharded one; serving
then publishes it atomically as before.
"""

import inspect
from typing import Any, Callable

import dagster as dg


def sharded_asset(key: dg.AssetKey, deps: list[dg.AssetKey], shards: int, step: str, *,
                  run_shard: Callable[[Any, Any, int, int, Any], Any],
                  combine: Callable[[Any, Any, list], dict],
                  resources: set[str], start: Callable[[], Any] = lambda: None,
                  **asset_kwargs) -> dg.AssetsDefinition:
    """A graph asset at ``key`` whose ``{step}_shard[shard_i]`` steps each call
    ``run_shard(context, resources, shard, shards, started)`` and whose ``{step}_combine`` step calls
    ``combine(context, resources, parts)`` (returning the asset's metadata). ``start()`` runs once in the
    fan-out step, so every shard shares one value (e.g. the decision instant)."""
    names = [k.path[-1] for k in deps]
    if len(set(names)) != len(names):
        raise ValueError(f"dependencies of {key.to_user_string()} share a name: {names}")

    @dg.op(name=f"{step}_shards", ins={n: dg.In(dg.Nothing) for n in names}, out=dg.DynamicOut(tuple))
    def fan_out(context: dg.OpExecutionContext):
        started = start()
        for shard in range(shards):
            yield dg.DynamicOutput((shard, started), mapping_key=f"shard_{shard}")

    @dg.op(name=f"{step}_shard", required_resource_keys=resources)
    def one_shard(context: dg.OpExecutionContext, shard: tuple):
        index, started = shard
        return run_shard(context, context.resources, index, shards, started)

    @dg.op(name=f"{step}_combine", required_resource_keys=resources)
    def combine_parts(context: dg.OpExecutionContext, parts: list) -> None:
        context.add_output_metadata({**combine(context, context.resources, parts), "shards": shards})

    def compose(**upstream):
        return combine_parts(fan_out(**upstream).map(one_shard).collect())

    # dagster maps the graph's inputs by parameter name: one per dependency
    compose.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    return dg.graph_asset(
        name=key.path[-1], key_prefix=key.path[:-1],
        ins={n: dg.AssetIn(key=k, dagster_type=dg.Nothing) for n, k in zip(names, deps)}, **asset_kwargs,
    )(compose)
