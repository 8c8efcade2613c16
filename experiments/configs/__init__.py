"""Configurations of the paper's experiments, one `get_config()` per file (a `StudyConfig`),
run as `clifer run --config experiments/configs/<name>.py` (experiments/README.md)."""
