"""Train a small SynapticSequence network with TSSL-BP on synthetic data (T = 5).

Each of 4 classes is a noisy prototype input; the label neuron should fire
on every step after the first, the others stay silent. The script prints
the loss falling and the final read-out accuracy.
"""

import torch
from torch import nn

from snntorch_tssl import SynapticSequence, _math, tssl

torch.manual_seed(0)
steps, classes, features = 5, 4, 64
prototypes = torch.rand(classes, features) * 2
labels = torch.randint(0, classes, (512,))
inputs = (prototypes[labels] + 0.3 * torch.randn(512, features)).clamp_min(0)

net = nn.Sequential(
    nn.Linear(features, 100, bias=False),
    SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=tssl(tau_s=3.0)),
    nn.Linear(100, classes, bias=False),
    SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=tssl(tau_s=3.0)),
)
optimizer = torch.optim.AdamW(net.parameters(), lr=5e-3, weight_decay=0.01)
pattern = torch.tensor([0.0, 1.0, 1.0, 1.0, 1.0])
target = _math.psc_filter(pattern[:, None, None] * nn.functional.one_hot(labels, classes), 3.0)

for epoch in range(30):
    out_psc = _math.psc_filter(net(inputs.expand(steps, *inputs.shape)), 3.0)
    loss = 0.5 * ((out_psc - target) ** 2).sum() / len(labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if epoch % 5 == 0 or epoch == 29:
        accuracy = (out_psc.sum(0).argmax(1) == labels).float().mean()
        print(f"epoch {epoch:2d}  loss {loss.item():.4f}  accuracy {accuracy:.3f}")
