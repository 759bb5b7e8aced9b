"""The bundled demo scorer: an Azure ML batch-deployment scoring script and its model.

This folder is uploaded as the deployment's code, so nothing here imports amlbatch's other
packages, and importing the package itself is cheap (no numpy):

- ``score.py``: the scoring script (``init()`` / ``run(mini_batch)``), numpy only
- ``model/``: ``model.npz`` + ``model.json`` (pickle-free) and ``reference.npz`` (the dataset copy)
- ``train.py``: ``python -m scorer.train`` re-creates ``model/`` (needs scikit-learn)
- ``sample_data.py``: ``write_sample_files(folder, ...)`` makes deterministic demo input
- ``environment.yml``: the conda file of the Azure environment
"""

from pathlib import Path

SCORER_DIR = Path(__file__).resolve().parent
SCRIPT = "score.py"
MODEL_DIR = SCORER_DIR / "model"
ENVIRONMENT_FILE = SCORER_DIR / "environment.yml"
