"""The bundled demo scorer: score.py's Azure contract, predictions equal to scikit-learn's, the
pickle-free model files, and deterministic sample data."""

from __future__ import annotations

import ast
import importlib.util
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scorer
from scorer import sample_data, train

SCORER = Path(scorer.__file__).resolve().parent


@pytest.fixture
def score(monkeypatch: pytest.MonkeyPatch):
    """A fresh copy of score.py loaded by file path (as Azure and the local runner do), with
    AZUREML_MODEL_DIR at the bundled model folder and init() done."""
    spec = importlib.util.spec_from_file_location("score_under_test", SCORER / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(SCORER / "model"))
    monkeypatch.delenv("AZUREML_BI_OUTPUT_PATH", raising=False)
    module.init()
    return module


@pytest.fixture(scope="module")
def trained() -> train.Trained:
    return train.train_model()


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.write_text(",".join(header) + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows))
    return path


def parse_rows(lines: list[str]) -> tuple[list[str], list[str], list[str], np.ndarray]:
    parts = [line.split(",") for line in lines]
    assert all(len(p) == 4 for p in parts)
    return ([p[0] for p in parts], [p[1] for p in parts], [p[2] for p in parts],
            np.array([float(p[3]) for p in parts]))


# ------------------------------------------------------------------------------------ contract


def test_init_finds_the_model_in_a_subfolder_of_azureml_model_dir(tmp_path: Path, monkeypatch) -> None:
    nested = tmp_path / "azureml-models" / "amlbatch-model" / "3"
    shutil.copytree(SCORER / "model", nested / "model")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path / "azureml-models"))
    spec = importlib.util.spec_from_file_location("score_nested", SCORER / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    files = sample_data.write_sample_files(tmp_path / "data", files=2, rows_per_file=5)
    out = module.run([str(p) for p in files])
    assert len(out) == 10 and all(isinstance(line, str) for line in out)
    names, ids, labels, _ = parse_rows(out)
    assert names == ["sample-0000.csv"] * 5 + ["sample-0001.csv"] * 5
    assert ids == [str(i) for i in range(10)]
    assert set(labels) <= {"malignant", "benign"}


def test_init_without_a_model_raises(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    spec = importlib.util.spec_from_file_location("score_empty", SCORER / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(FileNotFoundError, match="no model.npz"):
        module.init()


def test_predictions_equal_scikit_learn_on_the_whole_dataset(score, trained, tmp_path: Path) -> None:
    """The whole real dataset through score.run vs the pipeline train.py fits, retrained here."""
    path = write_csv(tmp_path / "all.csv", ["id", *trained.feature_names],
                     [[f"p{i}", *map(repr, row)] for i, row in enumerate(trained.data.tolist())])
    names, ids, labels, proba = parse_rows(score.run([str(path)]))
    assert ids == [f"p{i}" for i in range(len(trained.data))]
    expected_labels = [trained.class_names[i] for i in trained.pipeline.predict(trained.data)]
    assert labels == expected_labels
    np.testing.assert_allclose(proba, trained.pipeline.predict_proba(trained.data)[:, 0], rtol=0, atol=1e-9)
    assert 0.95 < np.mean(np.array(labels) == np.array(trained.class_names)[trained.target])


def test_predictions_equal_scikit_learn_on_sample_files(score, trained, tmp_path: Path) -> None:
    files = sample_data.write_sample_files(tmp_path, files=3, rows_per_file=200, seed=11)
    out = score.run([str(p) for p in files])
    assert len(out) == 600
    data = np.vstack([np.loadtxt(p, delimiter=",", skiprows=1)[:, 1:] for p in files])
    names, ids, labels, proba = parse_rows(out)
    assert labels == [trained.class_names[i] for i in trained.pipeline.predict(data)]
    np.testing.assert_allclose(proba, trained.pipeline.predict_proba(data)[:, 0], rtol=0, atol=1e-9)


def test_committed_model_is_what_train_py_produces(trained) -> None:
    with np.load(SCORER / "model" / "model.npz", allow_pickle=False) as committed:
        for name, array in train.model_arrays(trained).items():
            np.testing.assert_allclose(committed[name], array, rtol=1e-9, atol=1e-12, err_msg=name)
    meta = json.loads((SCORER / "model" / "model.json").read_text())
    assert meta["feature_names"] == trained.feature_names
    assert meta["class_names"] == ["malignant", "benign"] and meta["probability_of"] == "malignant"
    assert meta["kind"] == train.MODEL_KIND and meta["version"] == train.MODEL_VERSION
    assert meta["train_accuracy"] == pytest.approx(trained.train_accuracy, abs=1e-6)
    assert meta["train_accuracy"] > 0.95 and meta["test_accuracy"] > 0.95
    assert meta["dataset"]["license"] == "CC BY 4.0"


def test_export_is_byte_reproducible_and_pickle_free(trained, tmp_path: Path) -> None:
    first = {p.name: p.read_bytes() for p in train.export(trained, tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in train.export(trained, tmp_path / "b")}
    assert first == second and set(first) == {"model.npz", "model.json", "reference.npz"}
    for name in ("model.npz", "reference.npz"):
        with np.load(SCORER / "model" / name, allow_pickle=False) as arrays:  # raises on pickles
            assert all(arrays[key].dtype != object for key in arrays.files)
    with np.load(SCORER / "model" / "reference.npz", allow_pickle=False) as ref:
        np.testing.assert_array_equal(ref["data"], trained.data)
        np.testing.assert_array_equal(ref["target"], trained.target)


def test_rows_without_id_get_their_index_and_columns_may_come_in_any_order(score, trained, tmp_path) -> None:
    order = list(reversed(trained.feature_names))
    rows = trained.data[:4][:, ::-1].tolist()
    plain = write_csv(tmp_path / "plain.csv", [*order, "extra"], [[*r, "ignored"] for r in rows])
    mid = write_csv(tmp_path / "mid.csv", [order[0], "ID", *order[1:]],
                    [[r[0], f"x{i}", *r[1:]] for i, r in enumerate(rows)])
    out = score.run([str(plain), str(mid)])
    names, ids, labels, proba = parse_rows(out)
    assert ids == ["0", "1", "2", "3", "x0", "x1", "x2", "x3"]
    expected = trained.pipeline.predict_proba(trained.data[:4])[:, 0]
    np.testing.assert_allclose(proba, np.concatenate([expected, expected]), rtol=0, atol=1e-9)


def test_windows_newlines_bom_blank_lines_and_header_only_files(score, trained, tmp_path) -> None:
    header = ",".join(["id", *trained.feature_names])
    row = ",".join(["7", *map(repr, trained.data[0].tolist())])
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(("\ufeff" + header + "\r\n" + row + "\r\n\r\n" + row + "\r\n\r\n").encode("utf-8"))
    empty = tmp_path / "header-only.csv"
    empty.write_text(header + "\n")
    out = score.run([str(crlf), str(empty)])
    assert [line.split(",")[:2] for line in out] == [["crlf.csv", "7"], ["crlf.csv", "7"]]
    assert score.pop_failures() == []


def test_bad_files_are_skipped_named_and_the_good_rows_kept(score, trained, tmp_path, caplog) -> None:
    names = trained.feature_names
    good = write_csv(tmp_path / "good.csv", ["id", *names], [[1, *trained.data[0].tolist()]])
    values = trained.data[1].tolist()
    bad = {
        "missing.csv": write_csv(tmp_path / "missing.csv", ["id", *names[:-1]], [[1, *values[:-1]]]),
        "text.csv": write_csv(tmp_path / "text.csv", ["id", *names], [[1, "abc", *values[1:]]]),
        "short.csv": write_csv(tmp_path / "short.csv", ["id", *names], [[1, *values], [2, *values[:-2]]]),
        "long.csv": write_csv(tmp_path / "long.csv", ["id", *names], [[1, *values], [2, *values, 5.0]]),
        "nan.csv": write_csv(tmp_path / "nan.csv", ["id", *names], [[1, "nan", *values[1:]]]),
        "empty.csv": write_csv(tmp_path / "empty.csv", [], []),
        "absent.csv": tmp_path / "absent.csv",
    }
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    bad["binary.csv"] = binary
    paths = [str(good), *map(str, bad.values())]
    with caplog.at_level(logging.WARNING, logger="amlbatch.scorer"):
        out = score.run(paths)
    assert [line.split(",")[0] for line in out] == ["good.csv"]
    failures = dict(score.pop_failures())
    assert score.pop_failures() == []  # popped
    assert set(failures) == set(map(str, bad.values()))
    assert "missing column(s): worst fractal dimension" in failures[str(bad["missing.csv"])]
    assert "abc" in failures[str(bad["text.csv"])]
    assert "data row 2 has 32 fields, the header 31" in failures[str(bad["long.csv"])]
    assert "non-finite" in failures[str(bad["nan.csv"])]
    assert "empty file" in failures[str(bad["empty.csv"])]
    assert "No such file" in failures[str(bad["absent.csv"])]
    logged = " ".join(r.getMessage() for r in caplog.records)
    for name in bad:
        assert name in logged


def test_large_files_take_the_fast_path_and_read_exactly_like_small_ones(score, trained, tmp_path) -> None:
    names = trained.feature_names
    rows = trained.data[:200]
    order = [*names[::-1], "ID"]  # columns in another order, the id last
    lines = [",".join(order)] + [",".join([*map(repr, r[::-1].tolist()), f" r{i} "]) for i, r in enumerate(rows)]
    big = tmp_path / "big.csv"
    big.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n\r\n").encode())
    assert big.stat().st_size > score._ARROW_MIN_BYTES
    small = []
    for i in range(3):
        path = tmp_path / f"small-{i}.csv"
        path.write_text(lines[0] + "\n" + lines[i + 1] + "\n")
        small.append(str(path))
    out = score.run([str(big)])
    assert [line.split(",", 1)[1] for line in out[:3]] == [line.split(",", 1)[1] for line in score.run(small)]
    _, ids, labels, proba = parse_rows(out)
    assert ids == [f"r{i}" for i in range(200)]
    expected = trained.pipeline.predict_proba(rows)[:, list(trained.class_names).index("malignant")]
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-9)
    bad_rows = {"long": lines[5] + ",5", "text": lines[5].replace(lines[5].split(",")[2], "abc"),
                "inf": lines[5].replace(lines[5].split(",")[2], "inf")}
    for name, bad in bad_rows.items():
        (tmp_path / f"{name}.csv").write_text("\n".join(lines[:150] + [bad] + lines[150:]) + "\n")
    assert score.run([str(tmp_path / f"{name}.csv") for name in bad_rows]) == []
    failures = {Path(p).stem: reason for p, reason in score.pop_failures()}
    assert failures["long"] == "data row 150 has 32 fields, the header 31"
    assert "abc" in failures["text"] and failures["inf"] == "non-finite value in data row 150"


def test_probabilities_are_written_byte_for_byte_as_percent_12g(score) -> None:
    """The bulk writer rounds and formats in numpy and pyarrow; it must give what "%.12g" gives,
    across the decades, at 0 and 1, at powers of ten and at values whose 13th digit is a 5."""
    rng = np.random.default_rng(3)
    ties = np.array([float(f"0.{d}5") for d in rng.integers(10**10, 10**11, 2000)])  # 12 digits then 5
    values = np.concatenate([rng.random(20000), 10.0 ** rng.uniform(-30, 0, 20000), ties,
                             [0.0, 1.0, 1e-4, 9.99999999999995e-05, 0.1, 0.0999999999999999, 5e-324,
                              0.5, 0.9999999999995, 1 - 2**-53]])
    text = score._probability_text(values).to_pylist()
    assert text == ["%.12g" % v for v in values.tolist()]


def test_output_is_byte_for_byte_the_old_scorers(score, tmp_path) -> None:
    """What the bulk output path writes for big files and the f-string path for small ones is
    exactly what the scorer wrote before (tests/benchmarks/score_baseline.py)."""
    spec = importlib.util.spec_from_file_location("score_baseline", SCORER.parent / "tests" / "benchmarks"
                                                  / "score_baseline.py")
    baseline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(baseline)
    baseline.init()
    files = [str(p) for p in sample_data.write_sample_files(tmp_path, files=2, rows_per_file=700, seed=4)]
    files += [str(p) for p in sample_data.write_sample_files(tmp_path / "small", files=2, rows_per_file=5,
                                                               seed=5)]
    assert score._BULK_MIN_ROWS < 700 and score._BULK_MIN_ROWS > 5
    assert score.run(files) == baseline.run(files)


def test_parquet_files_score_like_their_csv_twins(score, tmp_path) -> None:
    for rows in (3, 300):  # the small and the bulk output paths
        csvs = sample_data.write_sample_files(tmp_path / f"c{rows}", files=2, rows_per_file=rows, seed=9)
        parquets = sample_data.write_sample_files(tmp_path / f"p{rows}", files=2, rows_per_file=rows, seed=9,
                                                  fmt="parquet")
        assert [p.name for p in parquets] == ["sample-0000.parquet", "sample-0001.parquet"]
        from_csv = score.run([str(p) for p in csvs])
        assert len(from_csv) == 2 * rows
        assert score.run([str(p) for p in parquets]) == [line.replace(".csv,", ".parquet,", 1) for line in from_csv]
    again = sample_data.write_sample_files(tmp_path / "again", files=2, rows_per_file=300, seed=9, fmt="parquet")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in parquets]  # deterministic


def test_parquet_columns_are_found_by_name_and_bad_parquet_files_are_named(score, trained, tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = trained.feature_names
    rows = trained.data[:100]
    columns = {name: rows[:, i] for i, name in enumerate(names)}
    reordered = {"extra": ["x"] * 100, **dict(reversed(columns.items())), "ID": [f"r{i}" for i in range(100)]}
    pq.write_table(pa.table(reordered), tmp_path / "good.parquet")
    out = score.run([str(tmp_path / "good.parquet")])
    _, ids, _, proba = parse_rows(out)
    assert ids == [f"r{i}" for i in range(100)]
    np.testing.assert_allclose(proba, trained.pipeline.predict_proba(rows)[:, 0], rtol=0, atol=1e-9)

    def table(**changes) -> pa.Table:
        return pa.table({**columns, **changes})

    pq.write_table(table().drop_columns([names[3]]), tmp_path / "missing.parquet")
    pq.write_table(table(**{names[0]: ["a"] * 100}), tmp_path / "text.parquet")
    pq.write_table(table(**{names[1]: pa.array([1.0] * 99 + [None])}), tmp_path / "null.parquet")
    pq.write_table(table(**{names[2]: [1.0] * 49 + [float("inf")] * 51}), tmp_path / "inf.parquet")
    (tmp_path / "damaged.parquet").write_bytes(b"PAR1 this is not parquet")
    bad = ["missing", "text", "null", "inf", "damaged"]
    assert score.run([str(tmp_path / f"{name}.parquet") for name in bad]) == []
    failures = {Path(p).stem: reason for p, reason in score.pop_failures()}
    assert failures["missing"] == f"missing column(s): {names[3]}"
    assert failures["text"] == f"column {names[0]} is not numeric (string)"
    assert failures["null"] == f"missing value in column {names[1]}, data row 100"
    assert failures["inf"] == "non-finite value in data row 50"
    assert failures["damaged"].startswith("not a readable Parquet file: ")


def test_summary_only_writes_own_files_and_returns_the_scored_paths(tmp_path: Path, monkeypatch) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(SCORER / "model"))
    monkeypatch.setenv("AZUREML_BI_OUTPUT_PATH", str(out_dir))
    monkeypatch.setenv("AMLBATCH_OUTPUT_ACTION", "summary_only")
    spec = importlib.util.spec_from_file_location("score_summary", SCORER / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    files = sample_data.write_sample_files(tmp_path / "data", files=2, rows_per_file=3)
    bad = tmp_path / "data" / "bad.csv"
    bad.write_text("x\n1\n")
    result = module.run([str(files[0]), str(bad), str(files[1])])
    assert result == [str(files[0]), str(files[1])]
    lines = (out_dir / "sample-0000.predictions.csv").read_text().splitlines()
    assert lines[0] == "id,label,probability" and len(lines) == 4
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "sample-0000.predictions.csv", "sample-0001.predictions.csv"]


def test_run_before_init_raises() -> None:
    spec = importlib.util.spec_from_file_location("score_no_init", SCORER / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(RuntimeError, match="init"):
        module.run([])


# ---------------------------------------------------------------------------------- packaging


def test_scorer_package_imports_nothing_from_the_rest_of_the_repo() -> None:
    for path in SCORER.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                roots = [(node.module or "").split(".")[0]] if node.level == 0 else ["<relative>"]
            else:
                continue
            assert not set(roots) & {"engine", "tui", "themes", "<relative>"}, f"{path.name}: {roots}"
    score_imports = {alias.name.split(".")[0] for node in ast.walk(ast.parse((SCORER / "score.py").read_text()))
                     if isinstance(node, ast.Import) for alias in node.names}
    assert score_imports <= {"json", "logging", "os", "numpy", "pyarrow"}  # what environment.yml installs


def test_importing_scorer_does_not_import_numpy() -> None:
    code = "import sys, scorer; assert 'numpy' not in sys.modules, 'numpy imported'; print(scorer.SCRIPT)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=SCORER.parent, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "score.py"


def test_environment_file_has_what_batch_deployments_need() -> None:
    text = (SCORER / "environment.yml").read_text()
    for needle in ("python=3.11", "numpy", "pyarrow", "azureml-core", "azureml-dataset-runtime[fuse]"):
        assert needle in text
    assert "scikit-learn" not in text and "pandas" not in text


# -------------------------------------------------------------------------------- sample data


def test_sample_files_are_deterministic(tmp_path: Path) -> None:
    a = sample_data.write_sample_files(tmp_path / "a", files=3, rows_per_file=50, seed=5)
    b = sample_data.write_sample_files(tmp_path / "b", files=3, rows_per_file=50, seed=5)
    c = sample_data.write_sample_files(tmp_path / "c", files=5, rows_per_file=50, seed=5)
    d = sample_data.write_sample_files(tmp_path / "d", files=3, rows_per_file=50, seed=6)
    assert [p.name for p in a] == ["sample-0000.csv", "sample-0001.csv", "sample-0002.csv"]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in c[:3]]  # more files: same first ones
    assert [p.read_bytes() for p in a] != [p.read_bytes() for p in d]


def test_sample_files_are_real_rows_with_a_little_noise(tmp_path: Path, trained) -> None:
    exact = sample_data.write_sample_files(tmp_path / "exact", files=2, rows_per_file=30, noise=0.0)
    noisy = sample_data.write_sample_files(tmp_path / "noisy", files=2, rows_per_file=30)
    header = exact[0].read_text().splitlines()[0].split(",")
    assert header == ["id", *trained.feature_names]
    ids = []
    for path in exact:
        table = np.loadtxt(path, delimiter=",", skiprows=1)
        ids += table[:, 0].astype(int).tolist()
        for row in table[:, 1:]:  # each row is a dataset row, to the 6 digits written
            assert np.isclose(trained.data, row, rtol=1e-5, atol=1e-9).all(axis=1).any()
    assert ids == list(range(60))
    table = np.loadtxt(noisy[0], delimiter=",", skiprows=1)[:, 1:]
    assert (table >= 0).all()
    assert not all(np.isclose(trained.data, row, rtol=1e-5).all(axis=1).any() for row in table)


def test_sample_data_needs_no_scikit_learn(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['sklearn'] = None; "
            "from scorer.sample_data import write_sample_files; "
            f"print(len(write_sample_files({str(tmp_path)!r}, files=2, rows_per_file=3)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=SCORER.parent, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2"


def test_sample_data_defaults(tmp_path: Path) -> None:
    paths = sample_data.write_sample_files(tmp_path)
    assert len(paths) == sample_data.DEFAULT_FILES == 20
    assert len(paths[0].read_text().splitlines()) == sample_data.DEFAULT_ROWS + 1 == 501
