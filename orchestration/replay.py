"""``devmentor replay oulad|assistments``: real history as known at an instant through the whole pipeline, then
what it published scored against what the learners really did afterwards (devmentor/studies/)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from devmentor.cli import CliError, resolve_settings, say
from devmentor.settings import Settings
from orchestration.runner import run_pipeline


def _replay_home(settings: Settings, fresh: bool) -> None:
    if any(settings.lake.glob("raw/*/*")) and not fresh:
        raise CliError(f"{settings.home} already holds data; a replay needs a clean data directory. Rerun with --fresh "
                       "(deletes its inbox, lake and warehouse) or set DEVMENTOR_HOME to another directory.")
    if fresh:
        say(f"--fresh: removing the inbox, lake and warehouse of {settings.home}")
        settings.clear_data()


def cmd_replay_assistments(args: argparse.Namespace) -> int:
    """Each test learner's first F answers (the train learners' all) through the whole pipeline, then what it
    published scored against the answers it never saw."""
    from devmentor.importers.assistments import as_of_of, read_assistments, split_at_cut, to_contract, with_answers
    from devmentor.learning.mastery_model import load_params
    from devmentor.studies import assistments as study

    if args.cut is None or args.cut < 1:
        raise CliError("replay assistments needs --cut F (F >= 1: the answers of each test learner the pipeline sees)")
    settings = resolve_settings()
    path = Path(args.path)
    started = time.perf_counter()
    try:
        rows = with_answers(read_assistments(path))
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    _replay_home(settings, args.fresh)
    as_of = as_of_of(split_at_cut(rows, args.cut)[0])
    settings = dataclasses.replace(settings, as_of=as_of)  # run_pipeline hands it to the run's steps
    say(f"[1/3] {path}: each test learner's first {args.cut} answers, every train learner's all → {settings.inbox}")
    counts = to_contract(path, settings.inbox, cut=args.cut, rows=rows)
    say("      " + ", ".join(f"{v:,} {k}" for k, v in counts.items()) + f"; as of {as_of.isoformat()}")
    say("[2/3] The whole pipeline with that as-of instant")
    if not run_pipeline(settings).success:
        raise CliError("the replay's pipeline run failed; the messages above say where")
    say("[3/3] What was published, scored against what each held-out learner did next")
    with settings.serving_db().connect() as conn:
        published = study.load_published(conn)
    scored = study.evaluate(published, load_params(settings.lake_store())[0], rows, args.cut)
    print(study.report(scored))
    say(f"replay finished in {time.perf_counter() - started:.1f}s; `devmentor dashboard` shows it")
    if args.json:
        print(json.dumps(study.json_ready(scored), default=str))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Ingest an OULAD release as it was known at the end of day N of a term, run the whole pipeline with
    that instant as its as-of, then score what it published against the real final outcomes."""
    if args.source == "assistments":
        return cmd_replay_assistments(args)
    if args.day is None:
        raise CliError("replay oulad needs --day N")
    from devmentor.importers.oulad import (
        OuladError,
        final_outcomes,
        presentation_order,
        read_oulad,
        replay_instant,
        to_contract,
    )
    from devmentor.studies.replay import evaluate, json_ready, load_published, report

    settings = resolve_settings()
    path = Path(args.path)
    try:
        terms = sorted(set(read_oulad(path).courses["code_presentation"]), key=presentation_order)
    except OuladError as exc:
        raise CliError(str(exc)) from None
    term = args.term or terms[-1]
    if term not in terms:
        raise CliError(f"--term {term} is not a presentation of {path}; use one of {', '.join(terms)}")
    as_of = replay_instant(term, args.day)
    started = time.perf_counter()
    _replay_home(settings, args.fresh)
    settings = dataclasses.replace(settings, as_of=as_of)  # run_pipeline hands it to the run's steps
    say(f"[1/3] {path} as known at {as_of.isoformat()} (day {args.day} of {term}) → {settings.inbox}")
    counts = to_contract(path, settings.inbox, as_of=as_of)
    say("      " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    say("[2/3] The whole pipeline with that as-of instant")
    result = run_pipeline(settings)
    if not result.success:
        raise CliError("the replay's pipeline run failed; the messages above say where")
    say("[3/3] What was published, scored against the final outcomes")
    with settings.serving_db().connect() as conn:
        early_warning, decisions = load_published(conn)
    scored = evaluate(early_warning, decisions, final_outcomes(path))
    print(report(scored))
    say(f"replay finished in {time.perf_counter() - started:.1f}s; `devmentor dashboard` shows it")
    if args.json:
        print(json.dumps(json_ready(scored), default=str))
    return 0
