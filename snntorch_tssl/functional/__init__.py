"""Losses and read-out for spike-sequence learning, in the style of ``snntorch.functional``.

Example::

    import snntorch_tssl.functional as TF

    loss_fn = TF.van_rossum_loss(tau=3.0)
    loss = loss_fn(spk_out, labels)  # spk_out [T, B, C], labels [B]
    acc = TF.accuracy_psc(spk_out, labels, tau=3.0)
"""

from snntorch_tssl.functional.acc import accuracy_psc
from snntorch_tssl.functional.loss import count_loss, van_rossum_loss

__all__ = ["accuracy_psc", "count_loss", "van_rossum_loss"]
