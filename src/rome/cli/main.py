"""The ``rome`` command: one sub-command per experiment step.

Each sub-command lives in the module that does the work and exposes
``add_arguments(parser)`` and ``run(args) -> int``; this file only dispatches, importing
the module of the chosen command (so ``rome --help`` stays fast and light).
"""
from __future__ import annotations

import argparse
import importlib
import sys

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "model-info": ("rome.model.info", "load a model and print its architecture map entry"),
    "known-facts": ("rome.tracing.known_facts", "select the COUNTERFACT facts a model knows (known_1000.json format)"),
    # causal tracing
    "trace": ("rome.tracing.cli", "causal trace of one prompt"),
    "trace-batch": ("rome.tracing.batch_cli", "causal traces of many known facts (resumable)"),
    "trace-summary": ("rome.tracing.summary_cli", "average indirect effects and the tracing summary"),
    "noise-scale": ("rome.tracing.noise_cli", "embedding statistics for the noise rules"),
    "saliency": ("rome.tracing.saliency_cli", "integrated-gradients saliency (Fig. 16)"),
    "render-tracing": ("rome.render.tracing_cli", "tracing figures 1-3, 7-16 from cached traces"),
    # statistics and editing
    "stats": ("rome.editing.stats_cli", "second-moment key statistics C = E[k k^T]"),
    "edit": ("rome.editing.edit_cli", "apply one edit and show its effect"),
    "sweep": ("rome.editing.sweep_cli", "ROME layer x token sweep (Fig. 5)"),
    "render-sweep": ("rome.render.sweep_cli", "Fig. 5 from cached sweep results"),
    "train": ("rome.editing.train_cli", "train the KE / MEND hyper-networks"),
    "baseline-sweep": ("rome.editing.baseline_sweep_cli", "FT / FT+L / AttnEdit sweeps (Figs. 17, 18, 23)"),
    "render-baselines": ("rome.render.baselines_cli", "Figs. 17, 18, 23, 24 from cached results"),
    # localization vs editing (Hase et al. 2023)
    "localization-facts": ("rome.results.localization_facts_cli", "known facts joined to their COUNTERFACT records"),
    "localization": ("rome.results.localization_cli", "tracing effect vs ROME rewrite score per layer (R², Spearman)"),
    "render-localization": ("rome.render.localization_cli", "the localization-vs-editing figure and table"),
    # evaluation and rendering
    "evaluate": ("rome.evaluation.cli", "evaluate an editing method on COUNTERFACT or zsRE"),
    "sequential": ("rome.evaluation.sequential_cli", "sequential editing: a seeded stream of edits, never undone (resumable)"),
    "render-sequential": ("rome.render.sequential_cli", "sequential-editing figures and the mass-editing table"),
    "summarize": ("rome.evaluation.summary_cli", "summarise per-record evaluation results"),
    "render-tables": ("rome.render.tables_cli", "Tables 1, 4, 5, 6 from summaries"),
    "render-text": ("rome.render.text_cli", "text figures 6, 19-22, 25"),
    "human-eval": ("rome.render.human_eval_cli", "human-evaluation kit and Fig. 26"),
    # the workflow's own
    "report": ("rome.render.report", "HTML index of every figure and table with provenance"),
    "provenance": ("rome.results.provenance", "record checksums of a rule's inputs and outputs"),
    "audit": ("rome.results.audit", "re-check recorded checksums of artifacts"),
}


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(
        prog="rome", description="ROME replication: tracing, editing, evaluation.",
        epilog="Global options (anywhere on the line): --debug shows the traceback of a failure; "
               "--stdout-file FILE writes the command's output to FILE atomically when it succeeds.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_) in COMMANDS.items():
        sub.add_parser(name, help=help_, add_help=False)
    return parser, COMMANDS


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a sub-command with the shared error style of :mod:`counterfact.cliargs`:
    bad input -> one line naming file, record and field, exit 2; any other failure -> one
    line, exit 1; ``--debug`` (anywhere) adds the traceback; ``--stdout-file FILE`` writes
    the command's stdout to FILE atomically when it succeeds."""
    from counterfact.cliargs import pop_global_flags, run_main

    argv, debug, stdout_file = pop_global_flags(sys.argv[1:] if argv is None else argv)
    parser, commands = build_parser()
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        parser.print_help()
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    name = argv[0]
    module_name, help_ = commands[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            print(f"rome {name}: not available in this version ({module_name} missing)", file=sys.stderr)
            return 2
        raise
    sub = argparse.ArgumentParser(prog=f"rome {name}", description=help_)
    module.add_arguments(sub)
    args = sub.parse_args(argv[1:])
    return run_main(f"rome {name}", lambda: module.run(args), debug=debug, stdout_file=stdout_file)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
