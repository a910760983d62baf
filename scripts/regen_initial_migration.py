"""Regenerate the initial Alembic migration from hub.models (only before the first release).

Usage: python scripts/regen_initial_migration.py (writes the file lint-clean: ruff check --fix, ruff format)
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from hub.db import MIGRATIONS_DIR, alembic_config


def main() -> None:
    target = MIGRATIONS_DIR / "versions" / "0001_initial_schema.py"
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        command.revision(
            alembic_config(f"sqlite:///{tmp}/gen.db"),
            message="initial schema",
            autogenerate=True,
            rev_id="0001",
        )
    text = target.read_text(encoding="utf-8")
    # Migrations must not depend on model code that may change later: use the plain column type.
    text = text.replace("hub.models.UTCDateTime()", "sa.DateTime()").replace("import hub.models\n", "")
    text = re.sub(r"Create Date: .*\n", "", text)
    target.write_text(text, encoding="utf-8")
    # The project's lint must pass on it as written: import order, then formatting.
    ruff = Path(sys.executable).with_name("ruff")
    subprocess.run([str(ruff), "format", "--quiet", str(target)], check=True)
    subprocess.run([str(ruff), "check", "--fix", "--quiet", str(target)], check=True)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
