"""Release gates: a release runs in the platform's virtual environment and beside the
release it replaces, so it may need nothing that is not installed and migrate only by adding."""

from __future__ import annotations

from pathlib import Path

import pytest

from cinemesh.runner.releases import (
    ReleaseError,
    check_dependencies_installed,
    contracting_operations,
)


def test_a_release_needing_a_package_this_environment_lacks_is_refused(tmp_path: Path) -> None:
    running, release = tmp_path / "running", tmp_path / "release"
    for tree, deps in ((running, '"httpx"'), (release, '"httpx", "no-such-package-cinemesh>=1"')):
        tree.mkdir()
        (tree / "pyproject.toml").write_text(f"[project]\nname = 'x'\ndependencies = [{deps}]\n")
    check_dependencies_installed(running, running)
    with pytest.raises(ReleaseError, match="no-such-package-cinemesh"):
        check_dependencies_installed(running, release)


def test_a_release_that_changes_a_pin_to_a_version_not_installed_is_refused(tmp_path: Path) -> None:
    running, release = tmp_path / "running", tmp_path / "release"
    for tree, pin in ((running, "httpx"), (release, "httpx==0.0.1")):
        tree.mkdir()
        (tree / "pyproject.toml").write_text("[project]\nname = 'x'\n")
        (tree / "constraints.txt").write_text(pin + "\n")
    with pytest.raises(ReleaseError, match=r"httpx==0\.0\.1"):
        check_dependencies_installed(running, release)


def test_a_migration_that_drops_or_renames_is_described() -> None:
    source = (
        "def upgrade():\n"
        "    op.add_column('profiles', sa.Column('x'))\n"
        "    op.drop_column('profiles', 'avatar')\n"
        "    op.alter_column('profiles', 'name', new_column_name='label')\n"
        "def downgrade():\n"
        "    op.drop_table('profiles')\n"
    )
    assert contracting_operations(source) == [
        "drops column profiles avatar",
        "renames column profiles name",
    ]
