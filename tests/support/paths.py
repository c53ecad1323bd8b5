"""The checkout the tests run from: tests may read repository files, product code never does."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
