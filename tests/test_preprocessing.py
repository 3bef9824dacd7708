"""Pixel transformers: sklearn conformance, round trips, clear errors."""

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from fashionclf import ImageFlattener, ImageReshaper, PixelScaler


# Every check passes; no expected failures. ImageReshaper is checked with
# image_shape=(-1, 1, 1) because the checks use few features, not 784 pixels.
@parametrize_with_checks(
    [
        PixelScaler(),
        PixelScaler(standardize=True),
        ImageReshaper(image_shape=(-1, 1, 1)),
        ImageFlattener(),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_scaler_maps_0_255_to_unit(sample):
    X = sample[0][:10]
    out = PixelScaler().fit_transform(X)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(out, X / 255.0, rtol=1e-6)


def test_scaler_standardize_and_inverse(sample):
    X = sample[0][:100]
    sc = PixelScaler(standardize=True).fit(X)
    Z = sc.transform(X)
    assert abs(Z.mean()) < 1e-4 and abs(Z.std() - 1) < 1e-3
    np.testing.assert_allclose(sc.inverse_transform(Z), X, atol=1e-3)


def test_scaler_custom_range_and_none():
    X = np.array([[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(PixelScaler(pixel_range=(0, 1)).fit_transform(X), X)
    np.testing.assert_allclose(
        PixelScaler(pixel_range=None).fit_transform(X * 7), X * 7
    )


def test_scaler_rejects_out_of_range():
    with pytest.raises(
        ValueError,
        match=r"PixelScaler received pixel values in \[0, 300\]; expected values in \[0, 255\]",
    ):
        PixelScaler().fit(np.array([[0, 300]]))
    with pytest.raises(ValueError, match=r"Negative values in data"):
        PixelScaler().fit(np.array([[-1, 3]]))


def test_scaler_rejects_nan():
    with pytest.raises(ValueError, match=r"Input X contains NaN"):
        PixelScaler().fit(np.array([[np.nan, 3.0]]))


def test_scaler_bad_pixel_range():
    with pytest.raises(
        ValueError,
        match=r"PixelScaler received pixel_range=\(5, 1\); expected None or a \(low, high\) pair",
    ):
        PixelScaler(pixel_range=(5, 1)).fit(np.ones((2, 2)))


@pytest.mark.parametrize(
    "transformer, match",
    [
        (PixelScaler(pixel_range="0-255"), r"'pixel_range' parameter of PixelScaler"),
        (PixelScaler(pixel_range=(0, 1, 2)), r"pixel_range=\(0, 1, 2\); expected"),
        (PixelScaler(pixel_range=("a", 1)), r"pixel_range=\('a', 1\); expected"),
        (PixelScaler(standardize="yes"), r"'standardize' parameter of PixelScaler"),
        (ImageReshaper(image_shape=784), r"'image_shape' parameter of ImageReshaper"),
        (ImageReshaper(image_shape=(1, 0, 28)), r"expected a tuple of positive ints"),
    ],
)
def test_bad_parameters_are_refused_in_fit(transformer, match):
    """Every transformer parameter is validated in fit (ImageFlattener has none)."""
    assert ImageFlattener().get_params() == {}
    with pytest.raises((ValueError, TypeError), match=match):
        transformer.fit(np.zeros((2, 784)))


def test_scaler_set_output_pandas(sample):
    X = pd.DataFrame(sample[0][:5], columns=[f"pixel{i}" for i in range(1, 785)])
    out = PixelScaler().set_output(transform="pandas").fit_transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(X.columns)


def test_reshaper_and_flattener_round_trip(sample):
    X = sample[0][:7]
    imgs = ImageReshaper().fit_transform(X)
    assert imgs.shape == (7, 1, 28, 28) and imgs.dtype == np.uint8
    np.testing.assert_array_equal(imgs[3, 0], X[3].reshape(28, 28))
    flat = ImageFlattener().fit_transform(imgs)
    np.testing.assert_array_equal(flat, X)
    np.testing.assert_array_equal(ImageReshaper().fit(X).inverse_transform(imgs), X)


def test_reshaper_dataframe_feature_names(sample):
    X = pd.DataFrame(sample[0][:4], columns=[f"pixel{i}" for i in range(1, 785)])
    r = ImageReshaper().fit(X)
    assert r.feature_names_in_[0] == "pixel1"
    assert r.transform(X).shape == (4, 1, 28, 28)


def test_reshaper_wrong_pixel_count():
    with pytest.raises(
        ValueError,
        match=r"ImageReshaper received 100 features \(pixels\) per sample; expected 784 pixels for images of shape \(1, 28, 28\)",
    ):
        ImageReshaper().fit(np.zeros((2, 100)))


def test_reshaper_infers_minus_one():
    assert ImageReshaper(image_shape=(-1, 28, 28)).fit(
        np.zeros((1, 1568))
    ).image_shape_ == (2, 28, 28)
    with pytest.raises(ValueError, match=r"expected a multiple of 784"):
        ImageReshaper(image_shape=(-1, 28, 28)).fit(np.zeros((1, 800)))


def test_reshaper_bad_image_shape():
    with pytest.raises(
        ValueError, match=r"image_shape=\(-1, -1\); expected a tuple of positive ints"
    ):
        ImageReshaper(image_shape=(-1, -1)).fit(np.zeros((1, 4)))


def test_flattener_feature_names_kaggle_layout():
    f = ImageFlattener().set_output(transform="pandas").fit(np.zeros((2, 28, 28)))
    out = f.transform(np.zeros((3, 28, 28)))
    assert list(out.columns[:2]) == ["pixel1", "pixel2"] and out.shape == (3, 784)


def test_flattener_shape_changes_between_fit_and_transform():
    f = ImageFlattener().fit(np.zeros((2, 28, 28)))
    with pytest.raises(
        ValueError,
        match=r"ImageFlattener received samples of shape \(28, 28, 3\); expected shape \(28, 28\) as seen in fit",
    ):
        f.transform(np.zeros((2, 28, 28, 3)))


def test_pipeline_scaler_reshaper(sample):
    out = make_pipeline(PixelScaler(), ImageReshaper()).fit_transform(sample[0][:3])
    assert out.shape == (3, 1, 28, 28) and out.dtype == np.float32


def test_set_output_pandas_on_the_readme_pipeline(small):
    import pandas as pd
    from sklearn.pipeline import make_pipeline

    from fashionclf import FashionCNNClassifier
    from fashionclf.preprocessing import ImageReshaper, PixelScaler

    X, y, Xt, _ = small
    pipe = make_pipeline(
        PixelScaler(),
        ImageReshaper(),
        FashionCNNClassifier(pixel_range=None, max_epochs=1, width=8, random_state=0),
    ).set_output(transform="pandas")
    pipe.fit(X[:200], y[:200])
    assert pipe.predict(Xt[:5]).shape == (5,)
    scaled = pipe[0].transform(Xt[:5])
    assert isinstance(scaled, pd.DataFrame) and scaled.shape == (5, 784)
    images = pipe[:2].transform(Xt[:5])
    assert isinstance(images, np.ndarray) and images.shape == (5, 1, 28, 28)
    with pytest.raises(ValueError, match="transform='excel'"):
        ImageReshaper().set_output(transform="excel")
