"""The ``serac`` command: one subcommand per job, options from the settings, JSON numbers, errors without a
traceback (exit 2), cancellation by a signal leaving nothing."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from serac.cli.main import build_parser, main
from serac.cli.values import setting_value
from serac.core.errors import InputError
from serac.core.jobs import JOBS, get_job

from .conftest import REFERENCE, RGB, ROOT, SAMPLE, SECONDARY, serac

VELOCITY = ("--chip", 32, "--search", 8, "--spacing", 16, "--threads", 1)


@pytest.mark.parametrize("name", sorted(JOBS))
def test_every_job_has_a_subcommand_with_its_settings_in_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    job = get_job(name)
    for spec in job.settings.fields():
        assert f"--{spec.name}" in text
    for port_name, port in list(job.inputs.items()) + list(job.outputs.items()):
        if port.kind != "file_result":
            assert f"--{port_name}" in text
    from serac.cli.help_texts import help_texts  # the dialog's text (tests/qgis/test_job_adapters.py checks that)

    assert " ".join(help_texts()[name].split()) in " ".join(text.split())
    if any(s.unit for s in job.settings.fields()):
        unit = next(s for s in job.settings.fields() if s.unit and s.minimum is not None)
        assert f"{unit.minimum:g} to {unit.maximum:g} {unit.unit}" in " ".join(text.split())


def test_defaults_come_from_the_settings_then_the_file_then_the_options(tmp_path):
    from serac.cli.main import job_arguments, make_settings

    job = get_job("glacier_velocity")
    settings_file = tmp_path / "s.json"
    settings_file.write_text(json.dumps({"chip": 48, "search": 12}))
    args = build_parser().parse_args(["glacier_velocity", "--reference", "a.tif", "--secondary", "b.tif",
                                      "--output", "o.tif", "--search", "10", "--prefilter", "none"])
    given = {k: v for k, v in vars(args).items() if k not in ("job_name", "command", "debug")}
    inputs, outputs, overrides = job_arguments(job, given)
    s = make_settings(job, overrides, str(settings_file))
    assert (s.chip, s.search, s.prefilter, s.spacing) == (48, 10, "none", job.settings().spacing)
    assert inputs == {"reference": "a.tif", "secondary": "b.tif"} and outputs == {"output": "o.tif"}


def test_options_are_accepted_with_dashes_as_with_underscores():
    from serac.cli.main import job_arguments

    job = get_job("glacier_velocity")
    names = [spec.name for spec in job.settings.fields() if "_" in spec.name]
    assert "max_speed" in names
    parser = build_parser()
    args = [["glacier_velocity", "--reference", "a.tif", "--secondary", "b.tif", "--output", "o.tif",
             f"--{name}", "40"] for name in ("max_speed", "max-speed")]
    parsed = [vars(parser.parse_args(a)) for a in args]
    assert parsed[0] == parsed[1] and parsed[0]["max_speed"] == "40"
    given = {k: v for k, v in parsed[1].items() if k not in ("job_name", "command", "debug")}
    assert job_arguments(job, given)[2]["max_speed"] == 40.0


def test_setting_values_are_read_from_text():
    from serac.core.jobs.timeseries import TimeSeriesSettings
    from serac.core.jobs.segmentation import CalvingFrontSettings

    spec = TimeSeriesSettings.field_spec
    assert setting_value(spec("point"), "609700, 6736700") == (609700.0, 6736700.0)
    assert setting_value(spec("step_days"), "30") == 30 and setting_value(spec("fill_gaps"), "yes") is True
    assert setting_value(CalvingFrontSettings.field_spec("bands"), "1,2") == (1, 2)
    assert setting_value(spec("regularisation"), "") is None
    with pytest.raises(InputError, match="not a number"):
        setting_value(spec("step_days"), "monthly")
    args = build_parser().parse_args(["velocity_timeseries", "--input", "a.tif", "--output", "o.tif", "--lambda",
                                      "5"])  # the Processing key LAMBDA of the field 'regularisation'
    assert args.regularisation == "5"
    with pytest.raises(InputError, match="not true or false"):
        setting_value(spec("fill_gaps"), "maybe")


def test_velocity_prints_json_numbers_and_writes_raster_and_arrows(tmp_path):
    out, arrows = tmp_path / "v.tif", tmp_path / "arrows.gpkg"
    proc = serac("glacier_velocity", "--reference", REFERENCE, "--secondary", SECONDARY, "--output", out,
                 "--arrows", arrows, *VELOCITY, "--offset_correction", "none", "--json")
    assert proc.returncode == 0, proc.stderr
    numbers = json.loads(proc.stdout)
    assert numbers["interval_days"] == 16 and numbers["valid_fraction"] > 0.5
    assert numbers["stable_nmad_vx"] is None  # NaN (no offset measured: no stable ground) as null
    assert out.stat().st_size > 0 and arrows.stat().st_size > 0
    assert "median speed" in proc.stderr  # the job's messages go to stderr, the numbers to stdout


def test_cheap_jobs_print_numbers_as_json_or_text(tmp_path):
    rgi = SAMPLE / "everest_landsat" / "15_rgi60_glacier_outlines.gpkg"
    proc = serac("rasterize_outlines", "--input", REFERENCE, "--outlines", rgi, "--output", tmp_path / "m.tif",
                 "--json")
    assert proc.returncode == 0, proc.stderr
    assert 0 < json.loads(proc.stdout)["glacier_fraction"] < 1
    proc = serac("segmentation_glacier_outlines", "--input", RGB, "--output_probability", tmp_path / "p.tif",
                 "--output_outlines", tmp_path / "o.gpkg", "--backend", "onnxruntime", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    assert "Number of outlines:" in proc.stdout and (tmp_path / "o.gpkg").stat().st_size > 0


def test_a_typed_error_exits_2_with_one_line_and_no_traceback(tmp_path):
    proc = serac("glacier_velocity", "--reference", tmp_path / "missing.tif", "--secondary", SECONDARY,
                 "--output", tmp_path / "v.tif")
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: Cannot open raster") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "v.tif").exists()
    proc = serac("glacier_velocity", "--reference", REFERENCE, "--secondary", SECONDARY, "--output",
                 tmp_path / "v.tif", "--chip", 3)
    assert proc.returncode == 2 and "outside its range 8 to 1024 px" in proc.stderr and "Traceback" not in proc.stderr
    proc = serac("--debug", "glacier_velocity", "--reference", tmp_path / "missing.tif", "--secondary", SECONDARY,
                 "--output", tmp_path / "v.tif")
    assert proc.returncode == 2 and "Traceback" in proc.stderr
    proc = serac("glacier_velocity", "--reference", REFERENCE)  # usage error: exit 2 too
    assert proc.returncode == 2 and "required" in proc.stderr


def test_sigterm_cancels_and_leaves_no_output(tmp_path):
    out = tmp_path / "v.tif"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "build" / "pluginpath"))
    proc = subprocess.Popen([sys.executable, "-m", "serac.cli", "glacier_velocity", "--reference", str(REFERENCE),
                             "--secondary", str(SECONDARY), "--output", str(out), "--spacing", "2", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:  # wait until the correlation runs
        if line.startswith("Correlating"):
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "cancelled" in err and "Traceback" not in err
    assert os.listdir(tmp_path) == []  # neither the output nor a temporary file


def test_the_command_line_loads_without_dask_and_batch_says_what_to_install(tmp_path):
    (tmp_path / "m.csv").write_text("job,input,outlines,output\nrasterize_outlines,a.tif,b.gpkg,c.tif\n")
    code = ("import sys; sys.modules['dask'] = sys.modules['distributed'] = None; from serac.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "build" / "pluginpath"))

    def run(*args):
        return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                              env=env, timeout=120)

    assert run("rasterize_outlines", "--help").returncode == 0
    assert run("batch", "--help").returncode == 0
    proc = run("batch", tmp_path / "m.csv", "--workers", 1)
    assert proc.returncode == 2 and "'distributed' is needed to run a batch on Dask" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert run("batch", tmp_path / "m.csv", "--array", "slurm").returncode == 0  # job arrays need no Dask
