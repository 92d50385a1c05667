"""What a benchmark's figures were measured on: shared by the scripts in this folder."""

import os
import platform
from importlib import metadata


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine(packages: list[str]) -> dict:
    """CPU count, platform, Python, the given packages' versions and the thread/BLAS
    environment variables in force."""
    return {"cpu_count": os.cpu_count(), "platform": platform.platform(), "machine": platform.machine(),
            "python": platform.python_version(), **{name: package_version(name) for name in packages},
            "blas_env": {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_"))}}
