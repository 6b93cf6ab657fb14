import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lulc_helpers.unet.losses import FocalLoss

# Three pixels, three classes. Pixel A: probabilities (1/4, 1/2, 1/4), class 2; pixel B: (3/4, 1/8, 1/8),
# class 1; pixel C unlabelled (code 0).
LOGITS = torch.log(torch.tensor([[1.0, 2.0, 1.0], [6.0, 1.0, 1.0], [1.0, 1.0, 5.0]])).T.reshape(1, 3, 1, 3)
CODES = torch.tensor([[[2, 1, 0]]])
FOCAL_A = -((1 - 0.5) ** 2) * math.log(0.5)
FOCAL_B = -((1 - 0.75) ** 2) * math.log(0.75)


def test_focal_matches_hand_calculation():
    assert FocalLoss(gamma=2)(LOGITS, CODES).item() == pytest.approx((FOCAL_A + FOCAL_B) / 2, rel=1e-6)


def test_weighted_focal_is_a_weighted_mean_over_labelled_pixels():
    weights = [0.0, 1.0, 3.0, 1.0]  # indexed by class code, 0 = unlabelled
    expected = (1.0 * FOCAL_B + 3.0 * FOCAL_A) / (1.0 + 3.0)
    assert FocalLoss(gamma=2, weight=weights)(LOGITS, CODES).item() == pytest.approx(expected, rel=1e-6)


def test_gamma_zero_is_cross_entropy():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 10, 7, 9, generator=generator)
    codes = torch.randint(0, 11, (2, 7, 9), generator=generator)
    expected = F.cross_entropy(logits, codes - 1, ignore_index=-1)
    assert FocalLoss(gamma=0)(logits, codes).item() == pytest.approx(expected.item(), rel=1e-6)
    weights = np.linspace(0.5, 3.0, 11)
    expected = F.cross_entropy(logits, codes - 1, ignore_index=-1, weight=torch.tensor(weights[1:], dtype=torch.float32))
    assert FocalLoss(gamma=0, weight=weights)(logits, codes).item() == pytest.approx(expected.item(), rel=1e-6)


def test_all_unlabelled_gives_zero_with_a_gradient():
    logits = torch.randn(1, 10, 4, 4, requires_grad=True)
    loss = FocalLoss()(logits, torch.zeros(1, 4, 4, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None
