"""A tiny, randomly initialised ClapModel folder in Hugging Face format, as a user's
downloaded CLAP would be laid out (no CLAP weights can be had offline here): a RoBERTa
text tower over byte-level pieces, an HTSAT audio tower with feature fusion, and a
ClapFeatureExtractor at 16 kHz with a one-second window."""

from pathlib import Path

SAMPLE_RATE = 16000
WINDOW_S = 1


def make_tiny_clap(out: Path, seed: int = 0, fusion: bool = True) -> Path:
    import torch
    from tokenizers import pre_tokenizers
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, RobertaTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for c in sorted(pre_tokenizers.ByteLevel.alphabet()):  # byte-level pieces, no merges
        vocab[c] = len(vocab)
    tokenizer = RobertaTokenizer(vocab=vocab, merges=[])
    torch.manual_seed(seed)
    config = ClapConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=37, max_position_embeddings=66),
        # the extractor's fusion stacks 64 mel bins; spec_size 64 holds its 51 frames of one second
        audio_config=dict(spec_size=64, num_mel_bins=64, window_size=4, depths=[1, 1], num_attention_heads=[2, 2],
                          patch_embeds_hidden_size=16, hidden_size=32, enable_fusion=fusion,
                          fusion_type="aff_2d" if fusion else None),
        projection_dim=16)
    out.mkdir(parents=True, exist_ok=True)
    ClapModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    ClapFeatureExtractor(feature_size=64, sampling_rate=SAMPLE_RATE, hop_length=320, fft_window_size=640,
                         max_length_s=WINDOW_S, frequency_max=8000, truncation="fusion" if fusion else "rand_trunc",
                         padding="repeatpad").save_pretrained(out)
    return out
