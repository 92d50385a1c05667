"""API keys: shown once, stored only as salted hashes, scoped, revocable."""

import json
import stat

import pytest

from embkit.errors import EmbkitError
from embkit.server import KeyStore

from live_server import embkit_cli


def test_only_a_salted_hash_is_stored(tmp_path):
    store = KeyStore(tmp_path / "keys.json")
    secret, key = store.create("read", "ci")
    other, _ = store.create("read", "ci")
    text = (tmp_path / "keys.json").read_text()
    assert secret[len("ek_") + 13:] not in text  # the part after "ek_<id>_"
    records = json.loads(text)["keys"]
    assert records[0]["salt"] != records[1]["salt"] and records[0]["hash"] != records[1]["hash"]
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600
    assert store.verify(secret).id == key.id and store.verify(other).id != key.id


@pytest.mark.parametrize("presented", ["", "ek_", "Bearer x", "ek_000000000000_" + "A" * 43])
def test_malformed_or_unknown_keys_do_not_verify(tmp_path, presented):
    store = KeyStore(tmp_path / "keys.json")
    store.create("admin")
    assert store.verify(presented) is None


def test_a_key_with_one_character_changed_does_not_verify(tmp_path):
    store = KeyStore(tmp_path / "keys.json")
    secret, _ = store.create("admin")
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert store.verify(flipped) is None


def test_scopes_include_the_lower_ones_and_collections_limit(tmp_path):
    store = KeyStore(tmp_path / "keys.json")
    _, read = store.create("read")
    _, write = store.create("write", collections=["a"])
    _, admin = store.create("admin")
    assert read.allows("read") and not read.allows("write")
    assert write.allows("read", "a") and write.allows("write", "a") and not write.allows("write", "b")
    assert not write.allows("admin", "a")
    assert admin.allows("admin", "anything")


def test_revoked_keys_stop_verifying(tmp_path):
    store = KeyStore(tmp_path / "keys.json")
    secret, key = store.create("read")
    server_view = KeyStore(tmp_path / "keys.json")  # another process's store (the server)
    assert server_view.verify(secret) is not None
    store.revoke(key.id)
    assert server_view.verify(secret) is None
    assert [k.revoked is not None for k in store.list()] == [True]


@pytest.mark.parametrize("call, message", [
    (lambda s: s.create("owner"), "scope: must be one of read, write, admin"),
    (lambda s: s.create("read", collections=["../etc"]), "name: '../etc' is not a valid collection name"),
    (lambda s: s.revoke("nope"), "id: no key with id 'nope'"),
])
def test_bad_input_names_the_field_and_changes_nothing(tmp_path, call, message):
    store = KeyStore(tmp_path / "keys.json")
    store.create("read")
    before = (tmp_path / "keys.json").read_bytes()
    with pytest.raises(EmbkitError, match=message.replace("(", r"\(").replace(".", r"\.")):
        call(store)
    assert (tmp_path / "keys.json").read_bytes() == before


def test_a_damaged_key_store_is_a_clear_error(tmp_path):
    (tmp_path / "keys.json").write_text("{not json")
    with pytest.raises(EmbkitError, match="keys: .* is not a readable key store"):
        KeyStore(tmp_path / "keys.json").list()


def test_the_cli_prints_the_key_once_and_never_lists_it(tmp_path):
    keys_file = str(tmp_path / "keys.json")
    made = embkit_cli("keys", "create", "--scope", "write", "--name", "ingest", "--collection", "papers",
                      "--keys-file", keys_file)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("ek_") and "not shown again" in made.stderr
    listed = embkit_cli("keys", "list", "--json", "--keys-file", keys_file)
    (row,) = json.loads(listed.stdout)
    assert row["scope"] == "write" and row["collections"] == ["papers"] and row["name"] == "ingest"
    assert "hash" not in row and "salt" not in row and secret not in listed.stdout
    assert embkit_cli("keys", "revoke", row["id"], "--keys-file", keys_file).returncode == 0
    assert json.loads(embkit_cli("keys", "list", "--json", "--keys-file", keys_file).stdout)[0]["revoked"]
    bad = embkit_cli("keys", "create", "--scope", "root", "--keys-file", keys_file)
    assert bad.returncode == 1 and bad.stderr.startswith("error: scope:")
