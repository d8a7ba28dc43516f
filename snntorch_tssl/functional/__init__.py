"""Losses and read-out for spike-sequence learning, in the style of ``snntorch.functional``.

Example::

    import torch
    import snntorch_tssl.functional as TF

    spk_out, labels = torch.randint(0, 2, (5, 8, 10)).float(), torch.randint(0, 10, (8,))  # [T, B, C], [B]
    loss = TF.van_rossum_loss(tau=3.0)(spk_out, labels)
    acc = TF.accuracy_psc(spk_out, labels, tau=3.0)
"""

from snntorch_tssl.functional.acc import accuracy_psc
from snntorch_tssl.functional.loss import count_loss, van_rossum_loss

__all__ = ["accuracy_psc", "count_loss", "van_rossum_loss"]
