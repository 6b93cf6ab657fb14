"""Multi-class focal loss (Lin et al. 2017) over class masks, unlabelled pixels ignored.

FL = -w_t (1 - p_t)**gamma log p_t per labelled pixel, averaged over all labelled pixels of the batch
with the class weights as weights: sum(w_t FL_t) / sum(w_t). With gamma 0 this is exactly PyTorch's
cross-entropy (weighted or not), so the "balance" option means the same thing in both.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import scheme


class FocalLoss(nn.Module):
    """Focal loss on logits (N, C, ...) whose channel k is class k + 1, against codes (N, ...) with 0 ignored.

    `weight`: one weight per class code, index 0 (unlabelled) included, as `labels.class_weights` returns;
    None weighs every class 1.
    """

    def __init__(self, gamma: float = 2.0, weight=None, ignore_index: int = scheme.NODATA):
        super().__init__()
        self.gamma, self.ignore_index = float(gamma), ignore_index
        weight = None if weight is None else torch.as_tensor(np.asarray(weight), dtype=torch.float32)
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        labelled = codes != self.ignore_index
        if not labelled.any():
            return logits.sum() * 0.0  # keeps the graph; nothing to learn from this batch
        log_probs = F.log_softmax(logits.float(), dim=1).movedim(1, -1)[labelled]
        target = codes[labelled].long()
        log_pt = log_probs.gather(1, (target - 1).unsqueeze(1)).squeeze(1)
        focal = -((1 - log_pt.exp()) ** self.gamma) * log_pt
        if self.weight is None:
            return focal.mean()
        w = self.weight[target]
        return (w * focal).sum() / w.sum().clamp_min(1e-12)
