"""The Glue job as deployed: its arguments match the script, its script is the uploaded one."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from spotify_glue.layout import STAGING_PREFIX, WarehouseLayout

from infra import etl
from tests.infra.harness import REPO_ROOT, ProgramRun, run_stack

SCRIPT = REPO_ROOT / "glue-scripts" / "spotify_glue" / "etl.py"
JOB = "aws:glue/job:Job"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"


def resolved_option_names(script: Path) -> set[str]:
    """The names the script passes to ``getResolvedOptions``, read from its source with ``ast``:
    string literals and ``*NAME`` of a module-level tuple of string literals."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    tuples: dict[str, list[str]] = {}
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and isinstance(value, ast.Tuple | ast.List):
            items = [e.value for e in value.elts if isinstance(e, ast.Constant)]
            if all(isinstance(i, str) for i in items) and len(items) == len(value.elts):
                tuples[target.id] = [str(i) for i in items]

    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "getResolvedOptions"
    ]
    assert len(calls) == 1, f"{script} should call getResolvedOptions exactly once"
    names_arg = calls[0].args[1]
    assert isinstance(names_arg, ast.List | ast.Tuple)
    names: set[str] = set()
    for element in names_arg.elts:
        if isinstance(element, ast.Constant) and isinstance(element.value, str):
            names.add(element.value)
        elif isinstance(element, ast.Starred) and isinstance(element.value, ast.Name):
            names.update(tuples[element.value.id])
        else:
            raise AssertionError(f"cannot read option {ast.dump(element)} statically")
    return names


def job(run: ProgramRun):
    jobs = run.of_type(JOB)
    assert len(jobs) == 1
    return jobs[0]


def test_ast_reader_finds_literal_and_starred_names(tmp_path):
    """The reader resolves both literal names and a starred module-level tuple."""
    script = tmp_path / "job.py"
    script.write_text(
        'ARGS = ("a", "b")\n'
        "def main():\n"
        '    getResolvedOptions(sys.argv, ["JOB_NAME", *ARGS, "c"])\n'
    )
    assert resolved_option_names(script) == {"JOB_NAME", "a", "b", "c"}


def test_job_arguments_are_exactly_the_scripts_resolved_options(dev_run):
    """Every script argument the job passes is read by the script, and every option the script
    reads (except JOB_NAME, which Glue supplies) is passed by the job."""
    script_reads = resolved_option_names(SCRIPT) - {"JOB_NAME"}
    passed = {
        name.removeprefix("--")
        for name in job(dev_run).inputs["defaultArguments"]
        if name not in etl.GLUE_SPECIAL_PARAMETERS
    }
    assert passed - script_reads == set(), "passed but never read by the script"
    assert script_reads - passed == set(), "read by the script but never passed"


def test_glue_special_parameters_are_all_set(dev_run):
    """The job sets every Glue special parameter the program declares."""
    arguments = job(dev_run).inputs["defaultArguments"]
    assert arguments.keys() >= etl.GLUE_SPECIAL_PARAMETERS


def test_no_op_and_risky_glue_5_parameters_are_not_set(dev_run):
    """Continuous-logging and Data-Catalog-metastore flags and the default job language are
    not passed on Glue 5.0 (etl.DROPPED_GLUE_PARAMETERS says why for each)."""
    assert job(dev_run).inputs["glueVersion"] == "5.0"
    arguments = job(dev_run).inputs["defaultArguments"]
    assert not arguments.keys() & etl.DROPPED_GLUE_PARAMETERS.keys()
    assert not etl.GLUE_SPECIAL_PARAMETERS & etl.DROPPED_GLUE_PARAMETERS.keys()


def test_job_paths_follow_the_contract(dev_run):
    """The job reads the staging prefix and writes the contract's layout in the warehouse
    bucket, the same layout the outputs name, and publishes to the stack's database."""
    arguments = job(dev_run).inputs["defaultArguments"]
    outputs = dev_run.outputs
    staging = f"s3://{outputs['staging_bucket']}/{STAGING_PREFIX}"
    assert arguments["--staging_path"] == staging
    layout = WarehouseLayout(arguments["--warehouse_location"])
    assert layout.table_root == outputs["table_location"]
    assert layout.quarantine_root == outputs["quarantine_location"]
    assert layout.summary_location == outputs["run_summary_location"]
    assert arguments["--catalog_database"] == outputs["database_name"]


def test_gate_thresholds_reach_the_job():
    """Configured gate thresholds become the job's gate arguments."""
    run = run_stack(
        "dev",
        {"gateMinRows": "1000", "gateMaxQuarantineRate": "0.01", "gateMaxJoinLossRate": "0.2"},
    )
    arguments = job(run).inputs["defaultArguments"]
    assert (arguments["--min_rows"], arguments["--max_quarantine_rate"]) == ("1000", "0.01")
    assert arguments["--max_join_loss_rate"] == "0.2"


def test_script_location_is_the_uploaded_script_object(dev_run):
    """script_location is built from the uploaded object's bucket and key."""
    scripts = {
        r.inputs["key"]: r for r in dev_run.of_type(OBJECT) if r.inputs["key"].endswith(".py")
    }
    uploaded = scripts["glue-scripts/spotify_etl.py"].inputs
    assert job(dev_run).inputs["command"]["scriptLocation"] == (
        f"s3://{uploaded['bucket']}/{uploaded['key']}"
    )
    assert uploaded["bucket"] == dev_run.outputs["assets_bucket"]


def glue_package(run: ProgramRun):
    packages = [
        r for r in run.of_type(OBJECT) if r.inputs["key"].startswith("glue-scripts/spotify_glue-")
    ]
    assert len(packages) == 1, [r.urn for r in packages]
    return packages[0]


def test_glue_package_travels_with_extra_py_files(dev_run):
    """The spotify_glue package is uploaded as one zip and passed through --extra-py-files."""
    package = glue_package(dev_run).inputs
    arguments = job(dev_run).inputs["defaultArguments"]
    assert arguments["--extra-py-files"] == f"s3://{package['bucket']}/{package['key']}"
    assert package["key"].endswith(".zip")


def test_glue_package_ships_exactly_the_package_modules(dev_run):
    """The zip holds every module of glue-scripts/spotify_glue under its import path, and
    nothing else (no egg-info, no caches)."""
    assets = glue_package(dev_run).inputs["source"].assets
    package_dir = REPO_ROOT / "glue-scripts" / "spotify_glue"
    expected = {f"spotify_glue/{p.name}": p for p in package_dir.glob("*.py")}
    assert {name: Path(asset.path) for name, asset in assets.items()} == expected


ENTRY_IMPORT = """
import json, runpy, sys
runpy.run_path(sys.argv[1])  # the entry script as Glue loads it, without calling main()
print(json.dumps({n: m.__file__ for n, m in sys.modules.items() if n.startswith("spotify_glue")}))
"""


def test_entry_script_loads_every_module_from_the_shipped_zip(dev_run, tmp_path):
    """The uploaded entry script imports the job with --extra-py-files holding the program's zip
    alone: every spotify_glue module the job needs is read from that zip, none from the source
    folder the project installs."""
    archive = tmp_path / "package.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, asset in glue_package(dev_run).inputs["source"].assets.items():
            zipped.write(asset.path, name)
    result = subprocess.run(
        [sys.executable, "-c", ENTRY_IMPORT, str(REPO_ROOT / "glue-scripts" / "spotify_etl.py")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(archive)},
    )
    origins = json.loads(result.stdout.splitlines()[-1])
    assert "spotify_glue.etl" in origins
    outside = {name: path for name, path in origins.items() if not path.startswith(str(archive))}
    assert not outside, f"modules loaded from outside the shipped zip: {outside}"


def test_glue_package_key_changes_with_its_content(tmp_path):
    """The key is a digest of the package's files: equal sources share it, any edit moves it."""
    package = tmp_path / "spotify_glue"
    package.mkdir()
    (package / "etl.py").write_text("A = 1\n", encoding="utf-8")
    first = etl.package_hash(etl.package_files(package))
    assert etl.package_hash(etl.package_files(package)) == first
    (package / "etl.py").write_text("A = 2\n", encoding="utf-8")
    assert etl.package_hash(etl.package_files(package)) != first


def test_uploaded_script_is_the_repository_file(dev_run):
    """The uploaded entry script's asset points at glue-scripts/spotify_etl.py itself."""
    (script,) = [
        r for r in dev_run.of_type(OBJECT) if r.inputs["key"] == "glue-scripts/spotify_etl.py"
    ]
    path = Path(script.inputs["source"].path)
    assert path == REPO_ROOT / "glue-scripts" / "spotify_etl.py"
    assert script.inputs["sourceHash"] == etl.source_hash(path)


def test_a_script_content_change_changes_the_object(tmp_path):
    """Editing the script changes the object's source hash, so `pulumi up` updates it."""
    script = tmp_path / "etl.py"
    script.write_text("print('v1')\n")
    before = etl.source_hash(script)
    script.write_text("print('v2')\n")
    assert etl.source_hash(script) != before


def test_job_runs_the_configured_glue_version_and_workers():
    """Glue version, worker type and count, timeout, retries and FLEX follow the config."""
    run = run_stack(
        "dev",
        {
            "workerType": "G.2X",
            "numberOfWorkers": "7",
            "timeoutMinutes": "45",
            "maxRetries": "2",
            "flexExecution": "true",
        },
    )
    inputs = job(run).inputs
    assert inputs["glueVersion"] == "5.0"
    assert (inputs["workerType"], inputs["numberOfWorkers"]) == ("G.2X", 7)
    assert (inputs["timeout"], inputs["maxRetries"]) == (45, 2)
    assert inputs["executionClass"] == "FLEX"


def test_job_defaults_to_standard_execution(dev_run):
    """Without flexExecution the job runs in the STANDARD class."""
    assert job(dev_run).inputs["executionClass"] == "STANDARD"


@pytest.mark.parametrize("prefix_arg", ["--TempDir", "--spark-event-logs-path"])
def test_assets_prefixes_live_in_the_assets_bucket(dev_run, prefix_arg):
    """Temp dir and Spark UI logs are prefixes of the assets bucket."""
    value = job(dev_run).inputs["defaultArguments"][prefix_arg]
    assert value.startswith(f"s3://{dev_run.outputs['assets_bucket']}/")
    assert value.endswith("/")
