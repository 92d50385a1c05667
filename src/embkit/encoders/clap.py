"""CLAP-family dual encoders from a local folder in Hugging Face `ClapModel` format
(config.json with model_type "clap", the weights, a tokenizer and
preprocessor_config.json): a text tower (`FOLDER`) and an audio tower (`FOLDER#audio`)
that embed into one space.

Sounds go through the model's own `ClapFeatureExtractor` (log-mel; its truncation,
"fusion" or "rand_trunc", and padding as configured) after decoding to mono at its
sampling rate (audio_decode.py). Two things differ from calling the extractor on a
batch, so that a clip always gets the same vector whatever else is in its batch:
`is_longer` says whether the clip really is longer than the window (the extractor
marks a random clip of a batch of short ones as longer, a training trick for the fusion
layers), and the random crops of a clip longer than the window come from a fixed seed.
Ingest splits long files into windows first, so nothing is cropped away there.
Needs the torch extra and soundfile (the audio extra)."""

import threading
from pathlib import Path

import numpy as np

from .audio_decode import clip_at
from .two_tower import OtherTower, TextTower, TwoTowerModel, model_type

AUDIO_SUFFIX = "#audio"
CROP_SEED = 0  # the seed of the extractor's crops of a clip longer than the window
_SEED_LOCK = threading.Lock()  # the extractor draws from numpy's global generator


def is_clap_folder(path: Path) -> bool:
    return model_type(path) == "clap"


class ClapModel(TwoTowerModel):
    """The model, its tokenizer and feature extractor, loaded once for both towers."""

    kind = "CLAP"

    def load(self, folder: str) -> tuple:
        from transformers import AutoTokenizer, ClapFeatureExtractor, ClapModel as HfClapModel

        return (HfClapModel.from_pretrained(folder, local_files_only=True),
                AutoTokenizer.from_pretrained(folder, local_files_only=True),
                ClapFeatureExtractor.from_pretrained(folder, local_files_only=True))

    def text_window(self) -> int:
        # RoBERTa-style positions start after the padding index: 514 positions hold 512 tokens
        text = self.model.config.text_config
        window = int(text.max_position_embeddings) - int(text.pad_token_id or 0) - 1
        return min(window, int(self.tokenizer.model_max_length))

    @property
    def sample_rate(self) -> int:
        return int(self.processor.sampling_rate)

    @property
    def window_samples(self) -> int:
        return int(self.processor.nb_max_samples)

    def is_longer(self, frames: int) -> bool:
        """Whether the extractor treats a clip of `frames` samples as longer than its window."""
        extractor = self.processor
        if extractor.truncation == "fusion":  # the same number of mel frames counts as fitting
            return frames // extractor.hop_length > extractor.nb_max_samples // extractor.hop_length
        return frames > extractor.nb_max_samples

    def mel(self, clip: np.ndarray) -> np.ndarray:
        """The extractor's input features of one mono clip at the model's rate."""
        with _SEED_LOCK:
            saved = np.random.get_state()
            np.random.seed(CROP_SEED)
            try:
                features = self.processor([clip], sampling_rate=self.sample_rate, return_tensors="np")
            finally:
                np.random.set_state(saved)
        return features["input_features"][0]

    def audio(self, clips: list[np.ndarray]) -> np.ndarray:
        torch = self.torch
        features = torch.from_numpy(np.stack([self.mel(c) for c in clips])).float()
        longer = torch.tensor([[self.is_longer(len(c))] for c in clips])
        with torch.inference_mode():
            return self.features(self.model.get_audio_features(input_features=features, is_longer=longer))


class ClapTextEncoder(TextTower):
    """The text tower: texts in, unit vectors in the shared space out."""

    model_class = ClapModel
    other_suffix = AUDIO_SUFFIX


class ClapAudioEncoder(OtherTower):
    """The audio tower: audio file paths, a file's bytes, or mono/(frames, channels)
    arrays already at `sample_rate` in; unit vectors out. `window_seconds` is the length the
    model hears at once."""

    modality = "audio"
    suffix = AUDIO_SUFFIX
    model_class = ClapModel

    def __init__(self, folder: Path, name: str | None = None, threads: int | None = None):
        super().__init__(folder, name, threads)
        self.sample_rate = self._model.sample_rate
        self.window_seconds = self._model.window_samples / self.sample_rate

    def embed(self, batch: list) -> np.ndarray:
        return self._model.audio([clip_at(item, self.sample_rate) for item in batch])
