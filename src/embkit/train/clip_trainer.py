"""The trainable parts of `embkit train clip` and `embkit train clap` and one optimizer
step: the CNN tower (images or log-mel spectrograms), the projection over frozen text
vectors, the learned temperature, AdamW with cosine decay, and their checkpoint."""

import math

import numpy as np

from ..encoders.base import l2_normalize


class DualEncoder:
    """Media tower + text projection + logit scale, trained together. `make_tower()`
    builds the media tower (seeded here, so the random init is the seed's)."""

    def __init__(self, make_tower, dim: int, text_dim: int, lr: float, total_steps: int, seed: int):
        import torch

        self.torch = torch
        torch.manual_seed(seed)
        self.tower = make_tower()
        self.projection = torch.nn.Linear(text_dim, dim)
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))  # CLIP's initial temperature
        params = [*self.tower.parameters(), *self.projection.parameters(), self.logit_scale]
        self.optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
        # cosine decay to zero over the whole run: the last epochs settle instead of jittering
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step / total_steps, 1))))

    def step(self, inputs, text_vectors, caption_ids) -> float:
        """One optimizer step on a batch; returns the loss."""
        self.tower.train()
        loss = info_nce(self.tower(inputs), self.projection(text_vectors), caption_ids, self.logit_scale)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.schedule.step()
        with self.torch.no_grad():
            self.logit_scale.clamp_(0, math.log(100))  # temperature no lower than 0.01, as CLIP
        return loss.item()

    def embed_texts(self, text_vectors) -> np.ndarray:
        with self.torch.no_grad():
            return l2_normalize(self.projection(text_vectors).numpy())

    def embed_media(self, inputs) -> np.ndarray:
        self.tower.eval()
        with self.torch.no_grad():
            return l2_normalize(self.tower(inputs).numpy())

    @property
    def temperature(self) -> float:
        return 1 / math.exp(self.logit_scale.item())

    def state(self) -> dict:
        return {"tower": self.tower.state_dict(), "projection": self.projection.state_dict(),
                "logit_scale": self.logit_scale.item(), "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict()}

    def restore(self, saved: dict) -> None:
        self.tower.load_state_dict(saved["tower"])
        self.projection.load_state_dict(saved["projection"])
        self.logit_scale.data.fill_(saved["logit_scale"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.schedule.load_state_dict(saved["schedule"])

    def save(self, folder, config: dict, files: tuple[str, str, str]) -> None:
        """The model folder the encoders read (encoders/small_clip.py, small_clap.py):
        `files` names its config, tower weights and text projection."""
        import json

        from safetensors.torch import save_file

        config_file, tower_weights, text_weights = files
        folder.mkdir(parents=True, exist_ok=True)
        (folder / config_file).write_text(json.dumps(config, indent=1))
        save_file({k: v.contiguous() for k, v in self.tower.state_dict().items()}, str(folder / tower_weights))
        save_file({"weight": self.projection.weight.detach().contiguous(),
                   "bias": self.projection.bias.detach().contiguous()}, str(folder / text_weights))


def info_nce(media_vectors, text_vectors, caption_ids, logit_scale):
    """Symmetric InfoNCE; equal captions in the batch share the target mass."""
    import torch
    import torch.nn.functional as F

    images = F.normalize(media_vectors, dim=1)
    texts = F.normalize(text_vectors, dim=1)
    logits = logit_scale.exp() * images @ texts.T
    same = (caption_ids[:, None] == caption_ids[None, :]).float()
    targets = same / same.sum(dim=1, keepdim=True)
    loss_images = torch.sum(-targets * F.log_softmax(logits, dim=1), dim=1).mean()
    loss_texts = torch.sum(-targets * F.log_softmax(logits.T, dim=1), dim=1).mean()
    return (loss_images + loss_texts) / 2
