"""MLflow models on the local target: a profile whose scorer.model is an MLflow model folder needs
no scoring script nor environment; the runner scores it with the model's pyfunc flavour, reading
CSV and Parquet files and writing Azure's MLflow batch output columns (row, prediction, file)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from engine import jobs, run
from engine.errors import ProfileError
from engine.profile import load
from tests.support import save_mlflow_model as save_model
from tui.cli import main


FEATURES = ["a", "b"]


@pytest.fixture(scope="module")
def mlflow_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(tmp_path_factory.mktemp("mlflow") / "model")


def mlflow_profile(tmp_path: Path, model: Path, data: dict[str, "pd.DataFrame"], extra: str = "") -> Path:
    """A local profile with only an MLflow model in its scorer folder (no score.py, no conda file)."""
    import shutil

    shutil.copytree(model, tmp_path / "scorer" / "model")
    (tmp_path / "data").mkdir()
    for name, frame in data.items():
        path = tmp_path / "data" / name
        frame.to_parquet(path) if path.suffix in (".parquet", ".pqt") else frame.to_csv(path, index=False)
    path = tmp_path / "mlflow.toml"
    path.write_text(textwrap.dedent(f"""\
        target = "local"
        [data]
        files = ["data/*"]
        [scorer]
        folder = "scorer"
        model = "model"
        [endpoint]
        mini_batch_size = 2
        """) + extra)
    return path


INPUTS = {
    "a.csv": pd.DataFrame({"a": [0.0, 3.0, 2.5], "b": [0.0, 3.0, 1.0]}),
    "b.parquet": pd.DataFrame({"a": [3.0, 0.1], "b": [2.0, 0.2]}),
    "c.pqt": pd.DataFrame({"a": [2.9], "b": [2.9]}),
}


def test_an_mlflow_model_is_scored_file_by_file_with_azures_output_columns(
        tmp_path: Path, mlflow_model: Path, capsys: pytest.CaptureFixture) -> None:
    profile_path = mlflow_profile(tmp_path, mlflow_model, INPUTS)
    assert main(["--profile", str(profile_path), "--plan"]) == 3
    assert "MLflow model: no scoring script" in capsys.readouterr().out
    assert main(["--profile", str(profile_path), "--yes", "--submit"]) == 0
    out = capsys.readouterr().out
    assert "6 rows scored, 0 failed files" in out
    assert main(["--profile", str(profile_path), "--plan"]) == 0  # unchanged model: nothing to register again

    [job] = jobs.list_jobs(load(str(profile_path)))
    # Azure's MLflow batch output: no header; row index in its file, the prediction, the file name
    written = pd.read_csv(Path(job.output) / "predictions.csv", names=["row", "prediction", "file"])
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(str(mlflow_model))
    expected = pd.concat([pd.DataFrame({"row": range(len(frame)), "prediction": model.predict(frame),
                                        "file": name}) for name, frame in INPUTS.items()], ignore_index=True)
    assert written.sort_values(["file", "row"]).reset_index(drop=True).equals(expected)
    assert expected["prediction"].tolist() == [0, 1, 1, 1, 0, 1]  # the model does what it was trained to


def test_a_file_it_cannot_read_fails_alone_with_the_reason(tmp_path: Path, mlflow_model: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    profile_path = mlflow_profile(tmp_path, mlflow_model, {"good.csv": INPUTS["a.csv"]})
    (tmp_path / "data" / "notes.txt").write_text("not a table\n")
    assert main(["--profile", str(profile_path), "--yes", "--submit"]) == 0
    [job] = jobs.list_jobs(load(str(profile_path)))
    assert job.rows == 3 and job.failures == 1
    assert "File type 'txt' is not supported" in capsys.readouterr().out


def test_a_profile_with_an_mlflow_model_and_no_scorer_code_is_valid(tmp_path: Path, mlflow_model: Path) -> None:
    profile = load(str(mlflow_profile(tmp_path, mlflow_model, INPUTS)))
    assert profile.mlflow_model
    assert not (profile.scorer_dir / "score.py").exists()
    assert len(run.preflight(profile)) == 3


@pytest.mark.parametrize(("mlmodel", "rule"), [
    ("flavors:\n  sklearn:\n    pickled_model: model.pkl\n", "no python_function flavour (found: sklearn)"),
    ("flavors: [unclosed\n", "not valid YAML"),
    ("artifact_path: model\n", "no 'flavors' section"),
])
def test_an_mlmodel_file_that_cannot_be_scored_is_refused_naming_scorer_model(
        tmp_path: Path, mlflow_model: Path, mlmodel: str, rule: str) -> None:
    profile = load(str(mlflow_profile(tmp_path, mlflow_model, INPUTS)))
    (profile.scorer_dir / "model" / "MLmodel").write_text(mlmodel)
    with pytest.raises(ProfileError) as caught:
        run.preflight(profile)
    assert "scorer.model" in str(caught.value) and rule in str(caught.value)
    assert "\n" not in str(caught.value)


def test_without_the_extra_the_run_says_how_to_install_it(tmp_path: Path, mlflow_model: Path) -> None:
    """A process where mlflow cannot be imported, as without amlbatch[mlflow] (None in sys.modules is
    Python's documented way to make an import fail): the submit is refused with the install command,
    before any job starts."""
    profile_path = mlflow_profile(tmp_path, mlflow_model, INPUTS)
    code = ("import sys\nsys.modules['mlflow'] = None\nfrom tui.cli import main\n"
            f"sys.exit(main(['--profile', {str(profile_path)!r}, '--yes', '--submit']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode != 0
    assert "install amlbatch[mlflow] (uv sync --extra mlflow)" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert jobs.list_jobs(load(str(profile_path))) == []


def test_a_scoring_script_beside_the_model_is_used_instead(tmp_path: Path, mlflow_model: Path) -> None:
    """As on Azure, an MLflow model deployment may opt in to its own scoring script (with a conda file)."""
    profile = load(str(mlflow_profile(tmp_path, mlflow_model, INPUTS)))
    (profile.scorer_dir / "score.py").write_text("def init():\n    pass\n\n\ndef run(mini_batch):\n    return mini_batch\n")
    (profile.scorer_dir / "environment.yml").write_text("name: mine\n")
    assert not profile.mlflow_model
    assert len(run.preflight(profile)) == 3


def test_a_model_needing_a_module_that_is_missing_fails_saying_which(tmp_path: Path, mlflow_model: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    profile_path = mlflow_profile(tmp_path, mlflow_model, INPUTS, extra="max_retries = 0\n")
    mlmodel = tmp_path / "scorer" / "model" / "MLmodel"
    mlmodel.write_text(mlmodel.read_text().replace("loader_module: mlflow.sklearn",
                                                   "loader_module: amlbatch_no_such_flavour"))
    assert main(["--profile", str(profile_path), "--yes", "--submit"]) == 1
    out = capsys.readouterr()
    assert "the MLflow model needs the Python module 'amlbatch_no_such_flavour'" in out.out + out.err
    assert "Traceback" not in out.out + out.err
