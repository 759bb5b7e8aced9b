"""Entry script of amlbatch's scheduled runs: the parallel step's init()/run() around the scorer.

Uploaded beside the scorer's own files (amlbatch never imports it). A parallel step passes its
model input as a program argument (the documented way), while a batch deployment's scorer finds
its model under AZUREML_MODEL_DIR: init() puts the mounted model there, loads the scorer's script
(--amlbatch_scoring_script, relative to this folder) and calls its init(); run() is the scorer's
run(), unchanged. Standard library only, so it runs in the scorer's own environment.
"""

import argparse
import importlib.util
import os
import sys

_scorer = None


def init():
    global _scorer
    parser = argparse.ArgumentParser()
    parser.add_argument("--amlbatch_model_dir", required=True)
    parser.add_argument("--amlbatch_scoring_script", required=True)
    args, _ = parser.parse_known_args()  # the parallel runtime adds its own arguments
    os.environ["AZUREML_MODEL_DIR"] = args.amlbatch_model_dir
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), args.amlbatch_scoring_script)
    sys.path.insert(0, os.path.dirname(path))  # the scorer's own imports resolve as in a deployment
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _scorer = module
    if hasattr(module, "init"):
        module.init()


def run(mini_batch):
    return _scorer.run(mini_batch)
