"""Where does a prediction come from? Integrated gradients for a fitted CNN.

Method: integrated gradients (Sundararajan et al., 2017) of the predicted
class's logit with respect to the input pixels, from an all-black baseline
image. Why this one:

- Fashion-MNIST articles sit on a black (0) background, so "no article" is a
  natural baseline, and the attributions add up to the change of the logit
  from that blank image to the real one (completeness), which makes them
  comparable between images.
- Plain gradients and gradient x input are noisy and saturate where the
  network is confident; Grad-CAM on the last convolution block of the
  default network would be a 4x4 map, too coarse for 28x28 images.
- It needs only gradients, so it works for any network the classifier
  trains, at ``steps`` forward/backward passes per image (cheap for the
  handful of images a picture shows).

The integral is a midpoint Riemann sum over ``steps`` points.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .._utils.validation import check_pixels

__all__ = ["integrated_gradients"]


def integrated_gradients(
    clf, X, target=None, *, steps: int = 32, batch_size: int = 256
) -> np.ndarray:
    """Integrated-gradients attribution of each pixel, per image.

    Parameters
    ----------
    clf : FashionCNNClassifier
        A fitted classifier.
    X : array-like of shape (n_samples, 784), (n, 28, 28) or (n, 1, 28, 28)
        Pixels, scaled as in ``clf.fit``.
    target : array-like of shape (n_samples,), optional
        Class labels (as in ``clf.classes_``) to explain; by default each
        image's predicted class.
    steps : int, default=32
        Points of the Riemann sum from the black baseline to the image.
    batch_size : int, default=256
        Interpolated images per forward/backward pass.

    Returns
    -------
    ndarray of shape (n_samples, height, width)
        Attributions summed over channels: positive where a pixel raises the
        class's logit. Per image they add up to ``logit(image) -
        logit(black image)`` of that class, up to the Riemann-sum error.
    """
    check_is_fitted(clf)
    if steps < 1:
        raise ValueError(f"steps={steps!r}; expected a positive int.")
    rows = check_pixels(  # scaled to [0, 1], as the network sees them
        clf,
        X,
        reset=False,
        image_shape=clf.image_shape,
        pixel_range=clf.pixel_range,
        refuse_unit_floats=True,
    )
    images = torch.from_numpy(np.ascontiguousarray(rows)).reshape(-1, *clf.image_shape_)
    if target is None:
        cols = clf.predict_proba(X).argmax(axis=1)
    else:
        cols = _class_columns(clf.classes_, target, len(images))
    network = clf.inference_module().network  # a CPU float32 copy, batch norm folded
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    out = np.empty((len(images), *images.shape[2:]), dtype=np.float32)
    per_pass = max(1, batch_size // steps)
    for start in range(0, len(images), per_pass):
        x = images[start : start + per_pass]
        col = torch.as_tensor(cols[start : start + per_pass]).repeat_interleave(steps)
        path = (x[:, None] * alphas[None, :, None, None, None]).flatten(0, 1)
        path.requires_grad_(True)
        logits = network(path)
        (grad,) = torch.autograd.grad(logits.gather(1, col[:, None]).sum(), path)
        grads = grad.reshape(len(x), steps, *x.shape[1:]).mean(dim=1)
        out[start : start + len(x)] = (grads * x).sum(dim=1).detach().numpy()
    return out


def _class_columns(classes, target, n: int) -> np.ndarray:
    target = np.asarray(target)
    if target.shape != (n,):
        raise ValueError(
            f"target has shape {target.shape}; expected ({n},), one label per image."
        )
    index = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
    unknown = sorted({t for t in target.tolist() if t not in index}, key=str)
    if unknown:
        raise ValueError(
            f"target holds labels {unknown[:5]} that are not in classes_ {list(index)}."
        )
    return np.array([index[t] for t in target.tolist()])
