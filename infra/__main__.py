"""Pulumi entry point (``main: infra/``): validate config, build components, export outputs."""

import sys
from pathlib import Path

# Pulumi runs this file as a script; make the repository and the Glue contract importable
# from any working directory (the project is also installed editable in .venv).
_REPO_ROOT = Path(__file__).resolve().parent.parent
for _path in (_REPO_ROOT / "glue-scripts", _REPO_ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from infra.program import main  # noqa: E402

main()
