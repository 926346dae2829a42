"""Processing algorithm: run many pairs, scenes or tiles through Serac's command line on Dask.

Not a job adapter but a launcher: it writes the manifest (from a table layer, or takes a CSV or
GeoPackage file), starts ``serac batch`` as a subprocess with an explicitly located Python
interpreter (never ``multiprocessing`` inside QGIS), streams its progress lines into the feedback,
stops the subprocess and its workers when the user cancels, and loads the results catalogue and the
rows' outputs with their styles.
"""

import json
import os
import re

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterString,
)

from .. import parameters as params
from ..base_algorithm import SeracAlgorithm
from ..compat import PARAM_ADVANCED, SOURCE_VECTOR
from ...plugin.dependencies import python_executable
from ..subprocess_runner import StreamedProcess, package_name, subprocess_environment

PROGRESS = re.compile(r"^\[(\d+)/(\d+)\]")
#: Most rows whose outputs are loaded into the project (a regional batch is browsed from the catalogue).
MAX_LOADED_ROWS = 50
EXIT_ROWS_FAILED, EXIT_CANCELLED = 3, 130


class BatchRunAlgorithm(SeracAlgorithm):
    ALG_ID = "batch_run"
    DISPLAY_NAME = "Batch run (many pairs, scenes or tiles)"
    GROUP_ID = "utilities"
    GROUP = "Utilities"
    TAGS = ("batch", "dask", "cluster", "manifest", "many", "pairs", "scenes", "tiles", "SLURM", "HPC")
    REQUIRES = ("dask", "distributed")
    SHORT_HELP = (
        "Runs one Serac algorithm per row of a manifest (a table layer or a CSV/GeoPackage file): column 'job' "
        "(glacier_velocity, velocity_timeseries, segmentation_glacier_outlines, dem_coregistration, ...; "
        "'serac jobs' lists them), optional 'id', then the job's inputs, outputs and settings by name, e.g. "
        "reference, secondary, output, chip (several input paths in one cell separated by ';'; relative paths "
        "from the manifest's folder). The rows run as tasks on Dask distributed through Serac's command line "
        "(serac batch) in a separate Python process: on a local cluster of N workers with one thread each, or "
        "on a running cluster given by its scheduler address (tcp://host:port). A failed row is recorded with "
        "its error and the others go on; a rerun skips the rows already complete. The results catalogue (a "
        "GeoPackage: one footprint per row with status, outputs, numbers and error) and, for up to 50 rows, "
        "their outputs are loaded styled. Needs the Python packages dask and distributed.")

    def canExecute(self):  # noqa: N802
        ok, message = super().canExecute()
        if ok and python_executable() is None:
            return False, self.tr("No Python interpreter was found to run Serac's command line.")
        return ok, message

    def define_parameters(self):
        self.addParameter(QgsProcessingParameterFeatureSource(
            "MANIFEST_TABLE", self.tr("Manifest table (one row per task; or give a file below)"), [SOURCE_VECTOR],
            optional=True))
        self.addParameter(QgsProcessingParameterFile(
            "MANIFEST_FILE", self.tr("Manifest file (CSV or GeoPackage)"), optional=True,
            fileFilter="Manifests (*.csv *.gpkg)"))
        self.addParameter(QgsProcessingParameterString(
            "SCHEDULER", self.tr("Dask scheduler: 'local' or the address of a running cluster (tcp://host:port)"),
            defaultValue="local"))
        params.add_number(self, "WORKERS", "Local cluster: workers (one thread each)", 2, 1, 1024, integer=True)
        memory = QgsProcessingParameterString("MEMORY_LIMIT", self.tr("Local cluster: memory limit per worker"),
                                              defaultValue="4GB")
        memory.setFlags(memory.flags() | PARAM_ADVANCED)
        self.addParameter(memory)
        params.add_number(self, "THREADS", "CPU threads per task", 1, 1, 256, integer=True, advanced=True)
        params.add_number(self, "BLOCK_SIZE", "Time series: blocks of (px; 0: one task per row)", 1024, 0, 65536,
                          integer=True, advanced=True)
        force = QgsProcessingParameterBoolean("FORCE", self.tr("Run complete rows again"), defaultValue=False)
        force.setFlags(force.flags() | PARAM_ADVANCED)
        self.addParameter(force)
        self.addParameter(QgsProcessingParameterBoolean("LOAD_OUTPUTS", self.tr("Load the rows' outputs"),
                                                        defaultValue=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            "CATALOGUE", self.tr("Results catalogue"), "GeoPackage (*.gpkg)"))
        self.addOutput(QgsProcessingOutputVectorLayer("CATALOGUE_LAYER", self.tr("Results catalogue layer")))
        for key, label in (("DONE", "Rows done"), ("FAILED", "Rows failed"), ("SKIPPED", "Rows already complete")):
            self.addOutput(QgsProcessingOutputNumber(key, self.tr(label)))

    # -- the manifest ---------------------------------------------------------------------------------------
    def manifest_path(self, parameters, context, catalogue):
        """The manifest file: the one given, or a CSV written beside the catalogue from the table layer."""
        path = self.parameterAsFile(parameters, "MANIFEST_FILE", context)
        source = self.parameterAsSource(parameters, "MANIFEST_TABLE", context)
        if path and source is not None:
            raise QgsProcessingException(self.tr("Give either a manifest table or a manifest file, not both."))
        if path:
            return path
        if source is None:
            raise QgsProcessingException(self.tr("No manifest was given. Fix: choose a table layer or a CSV/"
                                                 "GeoPackage file with one row per task."))
        from ...cli.manifest import write_manifest

        names = [f.name() for f in source.fields()]
        rows = [{n: ("" if v is None or str(v) == "NULL" else v) for n, v in zip(names, f.attributes())}
                for f in source.getFeatures()]
        if "job" not in names:
            raise QgsProcessingException(self.tr("The manifest table has no 'job' column. Fix: add a column "
                                                 "'job' naming the algorithm of each row."))
        return write_manifest(os.path.splitext(catalogue)[0] + ".manifest.csv", rows)

    def command(self, parameters, context, manifest, catalogue):
        python = python_executable()
        cmd = [python, "-m", f"{package_name()}.cli", "batch", manifest, "--catalogue", catalogue,
               "--threads", str(self.parameterAsInt(parameters, "THREADS", context)),
               "--block-size", str(self.parameterAsInt(parameters, "BLOCK_SIZE", context))]
        scheduler = self.parameterAsString(parameters, "SCHEDULER", context).strip() or "local"
        if scheduler == "local":
            cmd += ["--workers", str(self.parameterAsInt(parameters, "WORKERS", context)),
                    "--memory-limit", self.parameterAsString(parameters, "MEMORY_LIMIT", context).strip() or "4GB"]
        else:
            cmd += ["--scheduler", scheduler]
        if self.parameterAsBoolean(parameters, "FORCE", context):
            cmd.append("--force")
        return cmd

    # -- run ------------------------------------------------------------------------------------------------
    def run_algorithm(self, parameters, context, feedback):
        catalogue = self.parameterAsFileOutput(parameters, "CATALOGUE", context)
        manifest = self.manifest_path(parameters, context, catalogue)
        cmd = self.command(parameters, context, manifest, catalogue)
        feedback.pushCommandInfo(" ".join(cmd))
        process = StreamedProcess(cmd, env=subprocess_environment(), cwd=os.path.dirname(os.path.abspath(manifest)))
        feedback.pushInfo(self.tr("Started serac batch (process {})").format(process.pid))
        tail, counts = [], {"done": 0, "failed": 0, "skipped": 0}
        finished = False
        while not finished:
            if feedback.isCanceled():
                process.stop()
                raise QgsProcessingException(self.tr("Cancelled: the batch and its workers were stopped; the rows "
                                                     "already finished are kept and skipped by a rerun."))
            for line in process.lines():
                if line is None:
                    finished = True
                    break
                self._show(line, feedback, counts)
                tail = (tail + [line])[-20:]
        status = process.process.wait()
        if status == EXIT_CANCELLED:
            raise QgsProcessingException(self.tr("The batch was stopped from outside (signal)."))
        if status not in (0, EXIT_ROWS_FAILED):
            message = next((t for t in reversed(tail) if t.startswith(("Error:", "Unexpected"))), "\n".join(tail))
            raise QgsProcessingException(message)
        if status == EXIT_ROWS_FAILED:
            feedback.pushWarning(self.tr("{} row(s) failed; their errors are in the catalogue (column 'error'). "
                                         "Fix them and run again: complete rows are skipped.").format(counts["failed"]))
        self.load_results(parameters, context, catalogue)
        return {"CATALOGUE": catalogue, "CATALOGUE_LAYER": catalogue, "DONE": counts["done"],
                "FAILED": counts["failed"], "SKIPPED": counts["skipped"]}

    @staticmethod
    def _show(line, feedback, counts):
        match = PROGRESS.match(line)
        if match:
            k, n = int(match.group(1)), int(match.group(2))
            feedback.setProgress(100.0 * k / max(n, 1))
            key = "failed" if ": FAILED:" in line else "skipped" if "already complete" in line else "done"
            counts[key] += 1
            (feedback.reportError if key == "failed" else feedback.pushInfo)(line)
        elif line.startswith(("Error:", "Unexpected")):
            feedback.reportError(line)
        else:
            feedback.pushConsoleInfo(line)

    # -- results --------------------------------------------------------------------------------------------
    def load_results(self, parameters, context, catalogue):
        """Load the catalogue and (up to MAX_LOADED_ROWS rows) the rows' outputs, styled as their algorithms do."""
        from ...cli.records import CATALOGUE_LAYER, records_dir
        from ...core.jobs import get_job

        project = context.project()
        context.addLayerToLoadOnCompletion(
            f"{catalogue}|layername={CATALOGUE_LAYER}",
            QgsProcessingContext.LayerDetails(self.tr("Batch catalogue"), project, "CATALOGUE_LAYER"))
        if not self.parameterAsBoolean(parameters, "LOAD_OUTPUTS", context):
            return
        folder = records_dir(catalogue)
        records = []
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                record = json.load(fh)
            if record.get("status") == "done":
                records.append(record)
        for record in records[:MAX_LOADED_ROWS]:
            job = get_job(record["job"])
            report = record.get("report", {})
            for name, path in record.get("outputs", {}).items():
                port = job.outputs.get(name)
                if not path or port is None or port.kind == "file" or not os.path.isfile(path):
                    continue
                layer_name = f"{record['id']}: {port.label}"
                context.addLayerToLoadOnCompletion(path, QgsProcessingContext.LayerDetails(layer_name, project, name))
                style = report.get("styles", {}).get(name, port.style)
                value_range = report.get("display_ranges", {}).get(name)
                if style:
                    self.style_output(context, path, style, layer_name,
                                      value_range=tuple(float(v) for v in value_range) if value_range else None,
                                      band=report.get("display_bands", {}).get(name))
