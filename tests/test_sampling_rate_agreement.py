"""Steps that must agree on a sampling rate are checked at fit, and the error names the two that disagree."""

import numpy as np
import pytest
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from sklearn_ser import load_audio
from sklearn_ser.augmentation import AugmentedClassifier, WaveformAugmenter
from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.features import MFCC, MelSpectrogram, SequencePooling, SequenceUnion
from sklearn_ser.models import ScoreFusionClassifier


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Eight utterances of the synthetic corpus at 16 kHz: paths, labels, and the waveforms at 16 kHz."""
    root = tmp_path_factory.mktemp("rates_corpus")
    frame = make_synthetic_corpus(root, n_speakers=2, n_words=2, emotions=("angry", "sad"), random_state=0)
    paths = list(frame["path"])
    return paths, frame["label"].to_numpy(), [load_audio(path, sr=16000) for path in paths]


def mfcc_svm(sr, **mfcc):
    return Pipeline(
        [("mfcc", MFCC(sr=sr, n_mfcc=8, n_mels=20, **mfcc)), ("pool", SequencePooling()), ("clf", LogisticRegression())]
    )


def augmenter(sr):
    return WaveformAugmenter(sr=sr, n_copies=1, speed_factors=None, random_state=0)


# -- AugmentedClassifier: the augmenter's waveforms and the estimator's audio steps ---------------------------


def test_an_augmenter_at_another_rate_than_the_features_is_refused_at_fit(corpus):
    paths, labels, _ = corpus
    clf = AugmentedClassifier(mfcc_svm(16000), augmenter(8000))
    message = (
        r"AugmentedClassifier's augmenter \(WaveformAugmenter\) makes waveforms at sr=8000 Hz, but the estimator's "
        r"step 'estimator__mfcc' \(MFCC\) reads them as audio at sr=16000 Hz: .* e\.g\. augmenter__sr=16000 or "
        r"estimator__mfcc__sr=8000\."
    )
    with pytest.raises(ValueError, match=message):
        clf.fit(paths, labels)
    assert not hasattr(clf, "estimator_")


def test_an_augmenter_at_the_features_rate_trains(corpus):
    paths, labels, _ = corpus
    clf = AugmentedClassifier(mfcc_svm(8000), augmenter(8000)).fit(paths, labels)
    assert clf.predict(paths).shape == (len(paths),)


def test_a_nested_audio_step_at_another_rate_is_named_by_its_parameter_path(corpus):
    paths, labels, _ = corpus
    union = SequenceUnion(
        [("mfcc", MFCC(sr=8000, n_mfcc=8, n_mels=20, hop_length=80)), ("mel", MelSpectrogram(sr=16000, n_mels=8))]
    )
    estimator = Pipeline([("union", union), ("pool", SequencePooling()), ("clf", LogisticRegression())])
    with pytest.raises(ValueError, match=r"step 'estimator__union__mel' \(MelSpectrogram\) .* at sr=16000 Hz"):
        AugmentedClassifier(estimator, augmenter(8000)).fit(paths, labels)


def test_an_inner_augmenter_at_another_rate_is_refused(corpus):
    # an imbalanced-learn pipeline that augments again: its augmenter reads the outer one's waveforms
    paths, labels, _ = corpus
    inner = ImbPipeline(
        [
            ("augment", augmenter(16000)),
            ("mfcc", MFCC(sr=16000, n_mfcc=8, n_mels=20)),
            ("pool", SequencePooling()),
            ("clf", LogisticRegression()),
        ]
    )
    with pytest.raises(ValueError, match=r"sr=8000 Hz, but the estimator's step 'estimator__augment'"):
        AugmentedClassifier(inner, augmenter(8000)).fit(paths, labels)


class RateOfItsModel(TransformerMixin, BaseEstimator):
    """Reads audio at a rate it learns in fit, as a SpeechEmbedder takes its model's: unknown before."""

    @property
    def sr(self):
        check_is_fitted(self)
        return self.sampling_rate_

    def fit(self, X, y=None):
        self.sampling_rate_ = 16000
        return self

    def transform(self, X):
        return np.array([[np.mean(x), np.std(x)] for x in X])


def test_a_rate_known_only_once_fitted_is_checked_after_fitting(corpus):
    paths, labels, _ = corpus
    estimator = Pipeline([("speech", RateOfItsModel()), ("clf", LogisticRegression())])
    clf = AugmentedClassifier(estimator, augmenter(8000))
    with pytest.raises(
        ValueError, match=r"step 'estimator__speech' \(RateOfItsModel\) .* sr=16000 Hz.*augmenter__sr=16000\."
    ):
        clf.fit(paths, labels)
    assert not hasattr(clf, "estimator_")


# -- ScoreFusionClassifier: members fed the same input ----------------------------------------------------------


def fusion(rate_a, rate_b):
    return ScoreFusionClassifier([("wide", mfcc_svm(rate_a)), ("narrow", mfcc_svm(rate_b))], weights=None)


def test_members_at_different_rates_refuse_waveforms(corpus):
    _, labels, waveforms = corpus
    message = (
        r"ScoreFusionClassifier got waveforms, which have a single sampling rate, but its members read them at "
        r"different rates: member 'wide' \(its step 'wide__mfcc', MFCC\) at sr=16000 Hz and member 'narrow' "
        r"\(its step 'narrow__mfcc', MFCC\) at sr=8000 Hz"
    )
    with pytest.raises(ValueError, match=message):
        fusion(16000, 8000).fit(waveforms, labels)


def test_members_at_different_rates_take_paths_but_not_waveforms_to_predict(corpus):
    paths, labels, waveforms = corpus
    fitted = fusion(16000, 8000).fit(paths, labels)  # each member decodes the files at its own rate
    assert fitted.predict(paths).shape == (len(paths),)
    with pytest.raises(ValueError, match=r"members read them at different rates"):
        fitted.predict_proba(waveforms)


def test_members_at_one_rate_take_waveforms(corpus):
    _, labels, waveforms = corpus
    fitted = fusion(16000, 16000).fit(waveforms, labels)
    assert fitted.predict_proba(np.stack([w[:8000] for w in waveforms])).shape == (len(waveforms), 2)


# -- SequenceUnion: transformers fed the same input -------------------------------------------------------------


def ten_ms_union(rate_a, rate_b):
    """MFCC at ``rate_a`` and a Mel spectrogram at ``rate_b``, both at 10 ms frames."""
    return SequenceUnion(
        [
            ("mfcc", MFCC(sr=rate_a, n_mfcc=8, n_mels=20, n_fft=rate_a // 32, hop_length=rate_a // 100)),
            ("mel", MelSpectrogram(sr=rate_b, n_mels=8, n_fft=rate_b // 32, hop_length=rate_b // 100)),
        ]
    )


def test_a_union_at_different_rates_refuses_waveforms(corpus):
    _, _, waveforms = corpus
    message = (
        r"SequenceUnion got waveforms, which have a single sampling rate, but its transformers read them at "
        r"different rates: transformer 'mfcc' \(MFCC\) at sr=16000 Hz and transformer 'mel' \(MelSpectrogram\) "
        r"at sr=8000 Hz"
    )
    union = ten_ms_union(16000, 8000)
    with pytest.raises(ValueError, match=message):
        union.fit(waveforms)
    with pytest.raises(ValueError, match=message):
        union.fit_transform(waveforms)


def test_a_union_at_different_rates_joins_the_frames_of_paths(corpus):
    paths, _, waveforms = corpus
    union = ten_ms_union(16000, 8000)
    sequences = union.fit_transform(paths)
    assert [s.shape[1] for s in sequences[:1]] == [8 + 8]
    with pytest.raises(ValueError, match=r"transformers read them at different rates"):
        union.transform(waveforms)
    assert len(ten_ms_union(16000, 16000).fit_transform(waveforms)) == len(waveforms)
