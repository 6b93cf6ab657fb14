"""The course's student release, built with nbgrader: `python tools/assignments.py [--out build]`.

The notebooks in notebooks/ are the instructor's version, in nbgrader's format: solution regions between
`### BEGIN SOLUTION` and `### END SOLUTION` in cells marked `solution`, checks in locked cells marked `grade` with
points. They are copied into an nbgrader course directory (OUT/nbgrader/source/lulc-course/), and
`nbgrader generate_assignment` writes the release to OUT/release/lulc-course/: solutions replaced by a stub that
raises NotImplementedError, checks kept, outputs cleared. A teacher with an nbgrader JupyterHub copies
OUT/nbgrader/ as the course directory instead (its gradebook is not written here: --no-db).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "lulc-course"


def build(out: Path, notebooks: list[Path]) -> Path:
    """Write the release of `notebooks` under `out`; returns the folder that holds the released notebooks."""
    course, release = out / "nbgrader", out / "release"
    shutil.rmtree(course, ignore_errors=True)
    shutil.rmtree(release, ignore_errors=True)
    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    for notebook in notebooks:
        shutil.copy2(notebook, source / notebook.name)
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--no-db", "--force",
         f"--CourseDirectory.root={course.resolve()}", f"--CourseDirectory.release_directory={release.resolve()}"],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        sys.exit(f"nbgrader generate_assignment failed:\n{done.stdout}{done.stderr}")
    return release / ASSIGNMENT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="folder for nbgrader/ and release/ (default build/)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/NN_*.ipynb")
    args = parser.parse_args()
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    released = build(args.out, notebooks)
    print(f"{len(notebooks)} notebooks released to {released.relative_to(Path.cwd()) if released.is_relative_to(Path.cwd()) else released}")


if __name__ == "__main__":
    main()
