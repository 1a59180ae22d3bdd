"""The public Python API: a word recogniser with scikit-learn's conventions, on arrays or files.

::

    import wordrec

    rec = wordrec.Recognizer(n_states=8, n_mix=3).fit(recordings, words, sample_rate=16000)
    rec.predict([samples], sample_rate=16000)           # ['yes']
    rec.save("words.model")
    rec = wordrec.Recognizer.load("words.model")

A *recording* is a numpy array of samples, 1-D ``(n_samples,)`` or 2-D
``(n_samples, n_channels)``, of any float dtype (full scale 1.0) or integer
dtype (full scale the type's range, as in a PCM file), or the path of an
audio file; a batch may mix both.  Arrays need their sample rate: one for
the batch or one per recording.  Recordings at any rate and with any number
of channels are resampled to the model's rate and mixed down to mono, the
same way for an array as for a file holding the same samples.

The command line is built on this class: ``wordrec train`` is
:meth:`Recognizer.fit_folder` and :meth:`Recognizer.save`, ``wordrec
recognize`` is :meth:`Recognizer.recognize`, ``wordrec listen`` is
:meth:`Recognizer.listener` (:mod:`wordrec.api.listener`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wordrec.api.common import (
    Progress,
    RecordingLike,
    Result,
    events_of,
    recordings_of,
    result_of,
)
from wordrec.core.calibration import FALSE_REJECTION
from wordrec.core.model import ModelSet
from wordrec.core.openset import SPEAKER_WARP
from wordrec.core.train import TrainConfig
from wordrec.errors import WordrecError
from wordrec.io import corpus, modelfile
from wordrec.jobs.events import Events

#: The settings of :class:`TrainConfig` that :class:`Recognizer` takes by name.
TRAIN_OPTIONS = ("n_states", "n_mix", "max_iter", "tol", "topology", "var_floor", "seed", "noise_copies", "outlier_weight")


class Recognizer:
    """One GMM-HMM per word, trained by Baum-Welch EM; the answer is the most likely word.

    Parameters
    ----------
    n_states : int
        States per word model (left to right).
    n_mix : int
        Gaussians per state.
    max_iter, tol, topology, var_floor, seed, noise_copies, outlier_weight
        EM and training settings, as ``wordrec train``'s options (see
        :class:`wordrec.core.train.TrainConfig`); each defaults to the same.
    sample_rate : int, optional
        Hz to train at; default the lowest rate in the training data.
    trim : bool
        Cut leading and trailing non-speech in training and recognition.
    reject : bool
        Train a background model and calibrate a confidence and a threshold,
        so that recognition can answer ``<unknown>``.
    false_rejection : float
        Share of held-out recordings of known words the threshold may reject.
    speaker_warp : float
        Also calibrate for new voices (``recognize(new_voices=True)``) on
        held-out recordings with formants moved this fraction up or down;
        0: no new-voices calibration (docs/rejection.md).
    jobs : int
        Worker processes (0: one per core).  Results do not depend on it.

    Attributes
    ----------
    words_ : list of str
        The vocabulary, sorted; the columns of :meth:`log_likelihoods`.
    sample_rate_ : int
        Hz the models work at.
    threshold_ : float
        The confidence below which an answer is ``<unknown>`` at the default
        operating point (0 without calibration).
    model_ : ModelSet
        Everything a model file holds.
    failures_ : list of str
        After a fit: every recording that could not be used, and why.
    skipped_ : list of (str, str)
        After :meth:`fit_folder`: what was passed over, and why.
    """

    def __init__(self, *, n_states: int = 8, n_mix: int = 3, max_iter: int = 14, tol: float = 1e-3,
                 topology: str = "left-to-right", var_floor: float = 0.01, seed: int = 0,
                 noise_copies: float = 0.25, outlier_weight: float = 1e-4, sample_rate: int | None = None,
                 trim: bool = True, reject: bool = True, false_rejection: float = FALSE_REJECTION,
                 speaker_warp: float = SPEAKER_WARP, jobs: int = 1):
        given = dict(locals())
        self.train_config = TrainConfig(**{k: given[k] for k in TRAIN_OPTIONS}).validated()
        if sample_rate is not None and not (isinstance(sample_rate, (int, np.integer)) and 1000 <= sample_rate <= 384000):
            raise WordrecError(f"sample_rate must be None or a whole number of Hz in 1000-384000, not {sample_rate!r}")
        if not 0.0 <= false_rejection <= 0.5:
            raise WordrecError(f"false_rejection must be in [0, 0.5], not {false_rejection!r}")
        if not 0.0 <= speaker_warp <= 0.3:
            raise WordrecError(f"speaker_warp must be in [0, 0.3], not {speaker_warp!r}")
        if not (isinstance(jobs, (int, np.integer)) and 0 <= jobs <= 256):
            raise WordrecError(f"jobs must be a whole number in 0-256, not {jobs!r}")
        self.sample_rate, self.trim, self.reject = sample_rate, bool(trim), bool(reject)
        self.false_rejection, self.speaker_warp, self.jobs = float(false_rejection), float(speaker_warp), int(jobs)
        self.model_: ModelSet | None = None
        self.failures_: list[str] = []
        self.skipped_: list = []

    # -- training ------------------------------------------------------------

    def fit(self, recordings: Sequence[RecordingLike], words: Sequence[str], sample_rate=None,
            progress: Progress | Events | None = None, negatives: Sequence[RecordingLike] = ()) -> "Recognizer":
        """Train on labelled recordings.

        Parameters
        ----------
        recordings : sequence of ndarray, str or Path
        words : sequence of str
            The word of each recording.  A name that starts and ends with an
            underscore (``"_unknown_"``, ``"_background_noise_"``) marks
            recordings of no word: negatives, as ``negatives`` are.
        sample_rate : int or sequence of int, optional
            Hz of the arrays (one for all, or one per recording).
        progress : callable (stage, done, total), optional
        negatives : sequence of ndarray, str or Path
            Recordings of no word (other words, noise, silence): unknown
            examples for the calibration (docs/rejection.md).  Arrays take
            ``sample_rate`` when it is one number.

        Returns
        -------
        self
            Recordings that could not be used are in ``failures_``; the same
            recordings in the same order always give the same model.
        """
        from wordrec.core.labels import word_problem

        recs = recordings_of(recordings, sample_rate)
        words = [str(w) for w in words] if not isinstance(words, str) else None
        if words is None or len(words) != len(recs):
            raise WordrecError(f"words must give one word per recording ({len(recs)})")
        for w in sorted(set(words)):
            problem = word_problem(w)
            if problem:
                raise WordrecError(f"word {w!r}: {problem}")
        self.skipped_ = []
        negative = recordings_of(negatives, sample_rate if np.ndim(sample_rate) == 0 else None)
        return self._fit(list(zip(recs, words)), sorted(set(words)), events_of(progress), "the recordings", negative)

    def fit_folder(self, path, progress: Progress | Events | None = None, negatives=None) -> "Recognizer":
        """Train on a folder with one sub-folder per word, or a manifest of ``path<TAB>word`` lines.

        Sub-folders named like ``_unknown_/`` and ``_background_noise_/``
        hold negatives (recordings of no word), and so does ``negatives``
        (a folder, searched for audio, or a list of files), as ``wordrec
        train --negatives`` takes it.  What is
        passed over (hidden files, non-audio names, ...) is in ``skipped_``;
        recordings that could not be used in ``failures_``.
        """
        events = events_of(progress)
        found = corpus.load(path)
        self.skipped_ = list(found.skipped)
        negative = []
        if negatives is not None:
            negative, skipped = corpus.expand(negatives if isinstance(negatives, (list, tuple)) else [negatives])
            self.skipped_ += skipped
        for where, why in self.skipped_:
            events.skipped(where, why)
        return self._fit(found.items, found.words, events, str(path), negative)

    def _fit(self, items, words, events: Events, name: str, negatives=()) -> "Recognizer":
        from wordrec.jobs.training import train_corpus

        if negatives and not self.reject:
            raise WordrecError("negatives are examples for the rejection calibration: they need reject=True")
        models, failures = train_corpus(
            items, words, self.train_config, sample_rate=self.sample_rate, trim=self.trim, reject=self.reject,
            false_rejection=self.false_rejection, speaker_warp=self.speaker_warp, negatives=negatives,
            jobs=self._cores(), events=events, name=name,
        )
        self.model_, self.failures_ = models, [f.message for f in failures]
        return self

    def _cores(self) -> int:
        import os

        return self.jobs or os.cpu_count() or 1

    # -- the fitted model ------------------------------------------------------

    @property
    def fitted(self) -> ModelSet:
        if self.model_ is None:
            raise WordrecError("this Recognizer is not trained yet: call fit(), fit_folder() or Recognizer.load()")
        return self.model_

    @property
    def words_(self) -> list[str]:
        return self.fitted.words

    @property
    def sample_rate_(self) -> int:
        return self.fitted.features.sample_rate

    @property
    def threshold_(self) -> float:
        from wordrec.jobs.recognition import rejection_threshold

        return rejection_threshold(self.fitted)

    # -- recognition -----------------------------------------------------------

    def recognize(self, recordings: Sequence[RecordingLike], sample_rate=None, nbest: int = 1,
                  threshold: float | None = None, reject: bool = True, adapt: bool = False,
                  progress: Progress | Events | None = None, new_voices: bool | None = None) -> list[Result]:
        """Recognise each recording: one :class:`Result` per recording, in order.

        Parameters
        ----------
        recordings : sequence of ndarray, str or Path
        sample_rate : int or sequence of int, optional
            Hz of the arrays.
        nbest : int
            Words listed in each result's ``nbest``.
        threshold : float, optional
            Confidence below which the answer is ``<unknown>``; default ``threshold_``.
        reject : bool
            False never answers ``<unknown>``.
        adapt : bool
            The recordings are one speaker's: adapt the models to the answers
            they accept, then answer again (each answer then depends on the
            whole batch; pays from about 10 recordings a word).
        new_voices : bool, optional
            True: the speakers are not among the training speakers; answer
            with the model's calibration for new voices (accepts more of
            their words, and more unknown words).  False: the calibration
            for voices like the training ones.  None: the default
            (``threshold_`` is its threshold).
        """
        from wordrec.core.adapt import AdaptConfig
        from wordrec.jobs.recognition import recognize_files

        if not (isinstance(nbest, (int, np.integer)) and nbest >= 1):
            raise WordrecError(f"nbest must be a positive whole number, not {nbest!r}")
        recs = recordings_of(recordings, sample_rate)
        events = events_of(progress)
        events.stage("Recognising", len(recs))
        answers = recognize_files(
            self.fitted, recs, int(nbest), events.advance, threshold, reject, AdaptConfig() if adapt else None,
            new_voices, jobs=self._cores(),
        )
        return [result_of(a) for a in answers]

    def iter_recognize(self, recordings: Sequence[RecordingLike], sample_rate=None, nbest: int = 1,
                       threshold: float | None = None, reject: bool = True,
                       progress: Progress | Events | None = None, new_voices: bool | None = None):
        """:meth:`recognize` (without ``adapt``) as a generator: each :class:`Result` in order, as soon as
        it is ready, in ``jobs`` worker processes and bounded memory however many recordings there are."""
        from wordrec.jobs.recognition import recognize_stream

        if not (isinstance(nbest, (int, np.integer)) and nbest >= 1):
            raise WordrecError(f"nbest must be a positive whole number, not {nbest!r}")
        recs = recordings_of(recordings, sample_rate)
        events = events_of(progress)
        events.stage("Recognising", len(recs))
        for a in recognize_stream(self.fitted, recs, int(nbest), events.advance, threshold, reject, new_voices,
                                  self._cores()):
            yield result_of(a)

    def predict(self, recordings: Sequence[RecordingLike], sample_rate=None, new_voices: bool | None = None) -> list:
        """The answer for each recording: a word, ``"<unknown>"``, ``"<silence>"``, or None where it could not be used.

        ``new_voices``: the operating point, as for :meth:`recognize`.
        """
        return [r.word for r in self.recognize(recordings, sample_rate, new_voices=new_voices)]

    def log_likelihoods(self, recordings: Sequence[RecordingLike], sample_rate=None) -> np.ndarray:
        """Forward log-likelihood of every recording under every word model.

        Returns
        -------
        ndarray, shape (n_recordings, n_words)
            Columns in the order of ``words_``; ``-inf`` where a recording is
            too short for a word's model, NaN rows for recordings that could
            not be used or hold no speech.
        """
        from wordrec.core.score import score
        from wordrec.jobs.featurise import Failure, extract_files

        models = self.fitted
        feats = extract_files(recordings_of(recordings, sample_rate), models.features)
        out = np.full((len(feats), len(models.models)), np.nan)
        good = [i for i, f in enumerate(feats) if not isinstance(f, Failure)]
        if good:
            out[good] = score(models, [feats[i] for i in good])
        return out

    # -- adaptation, files -------------------------------------------------------

    def adapt(self, recordings: Sequence[RecordingLike], words: Sequence[str] | None = None, sample_rate=None,
              prior: float = 10.0) -> "Recognizer":
        """A new Recognizer adapted to one speaker's recordings (MAP on the means); this one is unchanged.

        With ``words`` (one per recording) the adaptation is supervised;
        without, each recording the model accepts adapts the word it is
        recognised as.  ``prior``: the trained means' weight in frames.
        """
        from wordrec.core.adapt import AdaptConfig
        from wordrec.jobs.adaptation import (
            adapt_to_speaker,
            adapt_to_voice,
            adaptation_features,
        )

        models = self.fitted
        recs = recordings_of(recordings, sample_rate)
        labelled = words is not None
        if labelled and (isinstance(words, str) or len(words) != len(recs)):
            raise WordrecError(f"words must give one word per recording ({len(recs)})")
        items = list(zip(recs, words)) if labelled else recs
        feats, used_words, failures = adaptation_features(models, items, labelled=labelled, jobs=self._cores())
        cfg = AdaptConfig(prior=prior).validated()
        if labelled:
            adapted, _ = adapt_to_speaker(models, feats, used_words, cfg)
        else:
            adapted, _ = adapt_to_voice(models, feats, cfg)
        new = self._with(adapted)
        new.failures_ = [f.message for f in failures]
        return new

    def teach(self, negatives: Sequence[RecordingLike], sample_rate=None) -> "Recognizer":
        """A new Recognizer taught recorded false alarms (``wordrec adapt --negatives``); this one is unchanged.

        Each recording (a sound the model answered with a word, that it
        should answer ``<unknown>``) adds a copy of the word it was taken
        for, moved to it; a later recording that copy explains better than
        every word gets confidence 0.  The words are not retrained
        (docs/rejection.md: what it rejects, and what not).  Recordings
        that could not be used are in the new one's ``failures_``.
        """
        from wordrec.jobs.adaptation import teach_false_alarms

        taught, _, failures = teach_false_alarms(self.fitted, recordings_of(negatives, sample_rate), jobs=self._cores())
        new = self._with(taught)
        new.failures_ = [f.message for f in failures]
        return new

    def listener(self, **options):
        """A :class:`wordrec.api.listener.Listener` on this recogniser's models: words in a
        stream as they are spoken (``options``: ``threshold``, ``reject``, ``nbest``, ``adapt``, ...)."""
        from wordrec.api.listener import Listener

        return Listener(self, **options)

    def save(self, path) -> None:
        """Write the model file (validated JSON, atomically), as ``wordrec train -o`` does."""
        modelfile.save(self.fitted, path)

    @classmethod
    def load(cls, path) -> "Recognizer":
        """A Recognizer from a model file, validated (see :func:`wordrec.io.modelfile.load`)."""
        models = modelfile.load(path)
        return cls._from_model(models)

    @classmethod
    def _from_model(cls, models: ModelSet) -> "Recognizer":
        settings = models.training.get("config", {})
        known = {k: settings[k] for k in TRAIN_OPTIONS if k in settings}
        try:
            rec = cls(**known, trim=models.features.trim, reject=models.calibration is not None)
        except WordrecError:  # settings outside today's ranges: keep the defaults, the model is what counts
            rec = cls(trim=models.features.trim, reject=models.calibration is not None)
        rec.model_ = models
        return rec

    def _with(self, models: ModelSet) -> "Recognizer":
        new = Recognizer._from_model(models)
        new.jobs, new.sample_rate = self.jobs, self.sample_rate
        return new

    def __repr__(self) -> str:
        state = f"{len(self.model_.models)} words at {self.model_.features.sample_rate} Hz" if self.model_ else "not trained"
        return f"<wordrec.Recognizer: {state}>"
