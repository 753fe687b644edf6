"""The direct dependencies of qclip-hf (setup.cfg: install_requires and every extra) and their installed versions.

    python .ci/direct_versions.py                                  # name==version, one a line (what a lane tested)
    python .ci/direct_versions.py --check-pins .ci/constraints.txt  # exit 1 naming any direct dependency not pinned

Standard library only: it runs in any environment, before or after the package is installed.
"""

from __future__ import annotations

import argparse
import configparser
import re
import sys
from importlib import metadata
from pathlib import Path

SETUP_CFG = Path(__file__).resolve().parent.parent / "setup.cfg"


def _name(requirement: str) -> str:
    # PEP 503 normalisation, extras and version ranges dropped: "ray[data]>=2.9" -> "ray".
    return re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]).lower()


def direct_dependencies(setup_cfg: Path = SETUP_CFG) -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(setup_cfg, encoding="utf-8")
    lines = parser.get("options", "install_requires").splitlines()
    if parser.has_section("options.extras_require"):
        for _, value in parser.items("options.extras_require"):
            lines += value.splitlines()
    return sorted({_name(line) for line in lines if line.strip() and not line.strip().startswith("#")})


def pinned(constraints: Path) -> dict[str, str]:
    pins = {}
    for line in constraints.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[_name(name)] = version.strip()
    return pins


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--check-pins", type=Path, metavar="CONSTRAINTS")
    options = args.parse_args()
    names = direct_dependencies()
    if options.check_pins:
        missing = [name for name in names if name not in pinned(options.check_pins)]
        if missing:
            print(f"{options.check_pins}: direct dependencies without a pin: {', '.join(missing)}", file=sys.stderr)
            return 1
        return 0
    for name in names:
        try:
            print(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            print(f"{name} (not installed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
