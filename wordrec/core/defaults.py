"""The rejection defaults that the command line shows in its help, kept apart from numpy.

``wordrec --help`` loads click and nothing else; these numbers are the
defaults of training and recognition (:mod:`wordrec.core.calibration`,
:mod:`wordrec.core.openset`) and of the help text alike.
"""

#: Share of the held-out right answers the default threshold may reject
#: (``train --false-rejection``).  FSDD dev sets (half of train/ known, the
#: rest of its digits unknown): 2 % accepted 29-34 % of unknown digits,
#: 5 % 6-14 % (docs/rejection.md).
FALSE_REJECTION = 0.05
#: Formants of the held-out recordings are moved this fraction up (every
#: other recording) or down for the new-voices calibration, so that its
#: threshold is set for voices the models have not heard
#: (``train --speaker-warp``; docs/rejection.md).
SPEAKER_WARP = 0.10
#: Which operating point answers when the caller does not say: False, the
#: calibration for voices like the training ones; True, ``new_voices``
#: (``recognize --new-voices/--known-voices``).  On FSDD no one threshold met
#: both the unknown-digit and the new-speaker bars (docs/rejection.md).
NEW_VOICES_BY_DEFAULT = False
