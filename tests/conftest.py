"""Shared fixtures: the public seed CSV (skipped when absent) and tiny seeded runs."""

from __future__ import annotations

from pathlib import Path

import pytest

SEED_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "seed" / "100_Unique_QA_Dataset.csv"


@pytest.fixture(scope="session")
def seed_csv() -> Path:
    if not SEED_CSV.exists():
        pytest.skip(f"seed CSV not found at {SEED_CSV}")
    return SEED_CSV


@pytest.fixture
def write_csv(tmp_path):
    """Write bytes or text to a CSV file in tmp_path and return its path."""

    def write(content: str | bytes, name: str = "qa.csv") -> Path:
        path = tmp_path / name
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    return write
