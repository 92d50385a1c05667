"""What the PostgreSQL CLI, import, server and replica tests share (a plain module:
`conftest` names clash between folders): a few documents, a jsonl writer and the CLI
run in this process."""

import json
from pathlib import Path

from typer.testing import CliRunner

from embkit.cli import app

TEXTS = {"py": ("Python is a programming language with readable syntax.", {"topic": "code", "year": 2020}),
         "rust": ("Rust guarantees memory safety without a garbage collector.", {"topic": "code", "year": 2022}),
         "sql": ("SQL queries select rows from relational database tables.", {"topic": "code", "year": 2019}),
         "bread": ("Knead the dough and let the bread rise for an hour.", {"topic": "food", "year": 2021}),
         "soup": ("A tomato soup simmers slowly with garlic and basil.", {"topic": "food", "year": 2020}),
         "tea": ("Green tea is brewed with water just below boiling.", {"topic": "food", "year": 2023}),
         "moon": ("The moon orbits the earth every twenty-seven days.", {"topic": "space", "year": 2018}),
         "mars": ("Rovers on Mars search for signs of ancient water.", {"topic": "space", "year": 2024})}
MEMORY_QUERY = "which language is safe with memory?"  # MiniLM ranks "rust" first


def write_jsonl(path: Path, texts: dict = TEXTS) -> Path:
    """`texts` (id -> (text, metadata)) as a jsonl file of id, text and metadata fields."""
    path.write_text("".join(json.dumps({"id": i, "text": t, **m}) + "\n" for i, (t, m) in texts.items()),
                    encoding="utf-8")
    return path


def cli(*args, code: int = 0):
    """`embkit ARGS` in this process; asserts the exit code."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def cli_json(*args) -> dict:
    return json.loads(cli(*args, "--json").stdout)


def collection_url(server, database: str, name: str = "docs", password: str | None = None) -> str:
    """A new database on `server` and the URL of collection `name` in it (with a
    password, which trust authentication ignores, to check it is never shown)."""
    url = server.create_database(database)
    if password:
        url = url.replace("embkit@", f"embkit:{password}@", 1)
    return f"{url}?collection={name}"
