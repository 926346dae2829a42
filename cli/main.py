"""The ``serac`` command: one subcommand per job of the registry, plus ``serac batch``.

Options are generated from each job's description: inputs and outputs are file paths
(``--reference a.tif``; a ``rasters`` input takes several), settings carry the names of the settings
fields (``--chip 32``; the Processing key upper-cases them), with their label, unit, range or choices
and default in ``--help``. Settings come from the defaults, then ``--settings file.json``, then the
options given. ``--json`` prints the numbers as JSON; otherwise one line per number with its label.

Exit status: 0 done; 2 a typed core error (bad input, setting or model; one line, no traceback;
``--debug`` shows it) or a command-line usage error; 130 cancelled (SIGINT/SIGTERM); 1 an unexpected
error (a bug: its message, and the traceback with ``--debug``).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import traceback
from typing import Optional, Sequence

from .values import describe_setting, paths_value, setting_value

EXIT_OK, EXIT_UNEXPECTED, EXIT_ERROR, EXIT_CANCELLED = 0, 1, 2, 130
#: Port kinds the command line takes as paths (outputs the job names itself are left out).
PATH_KINDS = ("raster", "rasters", "polygons", "lines", "points", "vector", "file")
GENERAL = ("settings", "json", "threads", "debug", "result_json")


def _usage_error(parser):
    def error(message):
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    return error


def add_job_parser(subparsers, job, common):
    """The subcommand of one job, its options generated from the job's ports and settings fields."""
    p = subparsers.add_parser(job.name, help=job.title, description=_description(job),
                              parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
    inputs = p.add_argument_group("inputs (file paths)")
    for name, port in job.inputs.items():
        if port.kind not in PATH_KINDS:
            continue
        inputs.add_argument(*_option_names(name), nargs="+" if port.kind == "rasters" else None,
                            required=not port.optional, metavar="PATH", default=argparse.SUPPRESS,
                            help=port.label + (" (several paths)" if port.kind == "rasters" else "")
                            + (" (optional)" if port.optional else ""))
    outputs = p.add_argument_group("outputs (file paths; vectors as GeoPackage)")
    for name, port in job.outputs.items():
        if port.kind not in PATH_KINDS:
            continue
        outputs.add_argument(*_option_names(name), required=not port.optional, metavar="PATH",
                             default=argparse.SUPPRESS, help=port.label + (" (optional)" if port.optional else ""))
    settings = p.add_argument_group("settings (default: the Processing dialog's)")
    for spec in job.settings.fields():
        # the field name, and the Processing key where it differs (e.g. --regularisation, --lambda)
        names = _option_names(spec.name, *([spec.key.lower()] if spec.key else []))
        settings.add_argument(*names, dest=spec.name, metavar=_metavar(spec), default=argparse.SUPPRESS,
                              help=describe_setting(spec).replace("%", "%%"))
    p.set_defaults(job_name=job.name)
    p.error = _usage_error(p)
    return p


def _option_names(*names):
    """Option strings of a port or setting: each name as written and with dashes (--max_speed, --max-speed)."""
    return list(dict.fromkeys(f"--{v}" for name in names for v in (name, name.replace("_", "-"))))


def _metavar(spec):
    if spec.kind is bool:
        return "true|false"
    if spec.choices:
        return "|".join(str(v) for v in spec.values)
    return {int: "N", float: "X"}.get(spec.kind, "TEXT")


def _description(job):
    """The job's title, its help text (the same as beside the QGIS dialog) and the numbers it prints, wrapped."""
    from .help_texts import help_texts

    paragraphs = [f"{job.title}.", help_texts().get(job.name, "")]
    numbers = ", ".join(f"{k} ({v})" for k, v in job.numbers.items())
    if numbers:
        paragraphs.append(f"Numbers printed: {numbers}.")
    return "\n\n".join(textwrap.fill(p, 100, break_on_hyphens=False, break_long_words=False) for p in paragraphs if p)


def build_parser():
    from ..core.jobs import JOBS, get_job

    common = argparse.ArgumentParser(add_help=False)
    general = common.add_argument_group("general")
    general.add_argument("--settings", metavar="FILE.json", default=argparse.SUPPRESS,
                         help="settings as JSON (field names as below); options given here override it")
    general.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                         help="print the numbers as JSON (NaN as null)")
    general.add_argument("--result-json", metavar="FILE.json", default=argparse.SUPPRESS,
                         help="write outputs, numbers and the job's report as JSON")
    general.add_argument("--threads", type=int, metavar="N", default=argparse.SUPPRESS,
                         help="CPU threads for the job (BLAS, GDAL, FFT, ONNX; default: all)")
    general.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show the traceback of an error")
    parser = argparse.ArgumentParser(prog="serac", description="Serac glacier remote sensing on the command line "
                                     "(the same jobs as the QGIS Processing algorithms).")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    parser.error = _usage_error(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in sorted(JOBS):
        add_job_parser(sub, get_job(name), common)
    from .batch import add_batch_parser

    add_batch_parser(sub, common)
    sub.add_parser("jobs", help="list the jobs").set_defaults(command="jobs")
    return parser


def job_arguments(job, values: dict, base: Optional[str] = None):
    """(inputs, outputs, setting overrides) of a job from option or manifest values (text) keyed by name."""
    from ..core.errors import InputError

    inputs = {n: paths_value(p, values[n], base) for n, p in job.inputs.items() if values.get(n) not in (None, "")}
    outputs = {n: paths_value(p, values[n], base) for n, p in job.outputs.items() if values.get(n) not in (None, "")}
    specs = {s.name: s for s in job.settings.fields()}
    overrides = {}
    for name, text in values.items():
        if name in specs:
            value = setting_value(specs[name], text)
            if value is not None:
                overrides[name] = value
        elif name not in job.inputs and name not in job.outputs and text not in (None, ""):
            raise InputError(f"'{name}' is neither an input, an output nor a setting of '{job.name}'.",
                             f"use the names of 'serac {job.name} --help'.")
    return inputs, outputs, overrides


def make_settings(job, overrides: dict, settings_file: Optional[str] = None):
    """The job's settings: defaults, then the JSON file, then ``overrides``."""
    base = job.make_settings(settings_file).to_dict() if settings_file else {}
    return job.settings.from_dict(dict(base, **overrides))


def print_numbers(job, result, as_json: bool, stream=None):
    stream = stream or sys.stdout
    numbers = json.loads(result.to_json())["numbers"]
    if as_json:
        print(json.dumps(numbers, indent=2), file=stream)
        return
    for name, value in numbers.items():
        label = job.numbers.get(name) or job.texts.get(name) or name
        shown = "not defined" if value is None else (f"{value:.6g}" if isinstance(value, float) else value)
        print(f"{label}: {shown}", file=stream)
    for name, path in result.outputs.items():
        print(f"Written {name}: {path}", file=stream)


def run_job_command(args) -> int:
    from ..core.jobs import get_job, run_job
    from .console import ConsoleFeedback, cancel_on_signals, guard_outputs

    job = get_job(args.job_name)
    given = {k: v for k, v in vars(args).items() if k not in GENERAL + ("job_name", "command")}
    inputs, outputs, overrides = job_arguments(job, given)
    settings = make_settings(job, overrides, getattr(args, "settings", None))
    feedback = ConsoleFeedback()
    with cancel_on_signals(feedback.cancelled), guard_outputs(outputs):
        result = run_job(job.name, inputs, outputs, settings, feedback=feedback,
                         threads=getattr(args, "threads", None))
    if getattr(args, "result_json", None):
        with open(args.result_json, "w", encoding="utf-8") as fh:
            fh.write(result.to_json())
    print_numbers(job, result, getattr(args, "json", False))
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    from ..core.errors import Cancelled, SeracError

    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_ERROR
        if args.command == "jobs":
            from ..core.jobs import JOBS, get_job

            for name in sorted(JOBS):
                print(f"{name:32s} {get_job(name).title}")
            return EXIT_OK
        if args.command == "batch":
            from .batch import batch_command

            return batch_command(args)
        return run_job_command(args)
    except Cancelled as exc:
        _report_error(exc, debug)
        return EXIT_CANCELLED
    except SeracError as exc:
        _report_error(exc, debug)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as exc:  # a bug: say so in one line; the traceback with --debug
        if debug:
            traceback.print_exc()
        print(f"Unexpected error ({type(exc).__name__}): {exc}. Run again with --debug for the traceback and "
              "report it.", file=sys.stderr)
        return EXIT_UNEXPECTED


def _report_error(exc, debug):
    if debug:
        traceback.print_exc()
    print(f"Error: {exc}", file=sys.stderr)
