"""Every Processing algorithm (but the batch launcher) is an adapter of a core job: its dialog is the job's settings,
inputs and outputs."""

import pytest

pytestmark = pytest.mark.qgis
#: Algorithms that are not one job but start many (through the command line).
LAUNCHERS = ("batch_run",)


def test_every_algorithm_declares_its_job(qgis_app):
    from serac.core.jobs import JOBS, get_job
    from serac.processing_provider.job_algorithm import JobAlgorithm, key_of
    from serac.processing_provider.provider import discover_algorithm_classes

    found = discover_algorithm_classes()
    classes = [c for c in found if issubclass(c, JobAlgorithm)]
    assert {c.ALG_ID for c in found} - {c.ALG_ID for c in classes} == set(LAUNCHERS)
    assert sorted(c.JOB_NAME for c in classes) == sorted(JOBS)
    for cls in classes:
        alg = cls()
        alg.initAlgorithm()
        job = get_job(cls.JOB_NAME)
        for name in job.inputs:
            assert alg.parameterDefinition(key_of(name)) is not None, (cls.ALG_ID, name)
        for spec in job.settings.fields():
            param = alg.parameterDefinition(spec.key or key_of(spec.name))
            assert param is not None, (cls.ALG_ID, spec.name)
            expected = spec.values.index(spec.default) if spec.choices else spec.default
            if spec.widget not in ("bands", "bands_text", "point") and spec.default is not None:
                assert param.defaultValue() == expected, (cls.ALG_ID, spec.name)
        outputs = {o.name() for o in alg.outputDefinitions()}
        assert {key_of(n) for n in list(job.numbers) + list(job.texts)} <= outputs
        assert cls.REPORT_OUTPUT == "REPORT" and cls.REPORT_OUTPUT in outputs  # one name for the JSON report
        assert "REPORT" not in {key_of(n) for n in job.outputs}, cls.ALG_ID


def test_the_command_line_shows_each_algorithms_help_text(qgis_app):
    """``serac <job> --help`` reads the help text from the algorithm module's source (no QGIS import): it must be
    the text the dialog shows, for every algorithm."""
    from serac.cli.help_texts import help_texts
    from serac.processing_provider.job_algorithm import JobAlgorithm
    from serac.processing_provider.provider import discover_algorithm_classes

    texts = help_texts()
    for cls in discover_algorithm_classes():
        if issubclass(cls, JobAlgorithm):
            assert texts.get(cls.JOB_NAME) == cls().shortHelpString(), cls.ALG_ID


def test_algorithms_check_declared_requirements_only(qgis_app):
    """The packages an algorithm checks before it runs come from the requirement files: the three every algorithm
    imports, plus the declared names it lists in REQUIRES (a name missing from the files is an error)."""
    from serac.plugin.dependencies import REQUIREMENTS
    from serac.processing_provider.base_algorithm import CORE_REQUIREMENTS, declared_requirements
    from serac.processing_provider.provider import discover_algorithm_classes

    assert [module for module, _ in CORE_REQUIREMENTS] == ["numpy", "scipy", "rasterio"]
    assert {module for module, _ in CORE_REQUIREMENTS} <= {r.module for r in REQUIREMENTS if r.required}
    for cls in discover_algorithm_classes():
        declared_requirements(cls.REQUIRES)  # KeyError for a name not in the requirement files
    assert dict(declared_requirements(("onnxruntime", "torch"))) == {"onnxruntime": "onnxruntime", "torch": "torch"}
    with pytest.raises(KeyError, match="not-declared"):
        declared_requirements(("not-declared",))
