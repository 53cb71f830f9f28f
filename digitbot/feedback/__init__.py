"""Users' confirmations and corrections, stored for training — and nothing more.

What is kept per sample: the preprocessed 28×28 crops the model saw (uint8), the right label,
whether the user confirmed or corrected, the model version that answered, a salted hash of the
user id and a timestamp. Never the photo, never a name or a user id. Samples expire after the
retention period; `/forget` deletes a user's samples at once.

A correction that contradicts a very confident champion is held for review (an admin accepts or
rejects it) instead of going straight into training: that is where abuse or a slip of the thumb
does the most harm, and where the model is most often right.

An admin can exclude a user: their samples, stored and future, are rejected (each remembers its
status, so including the user again gives it back). A web page's answer belongs to no one until
the visitor who sent it claims it (`claim_answer`); from then on it is recorded like any other.

The parts, one module each: `records` (what is stored, under which keys), `identity` (the
salted user hash), `intake` (answers waiting for feedback, recording), `archive` (stored
samples, retention, forgetting), `moderation` (review, exclusion), `report` (the summary);
`store` puts them behind one `FeedbackStore`.
"""

from digitbot.feedback.identity import salted_user_hash
from digitbot.feedback.intake import RecordOutcome, daily_limit_key, is_label, outcome_message
from digitbot.feedback.records import PendingAnswer, Sample, Status, user_samples_key
from digitbot.feedback.store import FeedbackStore

__all__ = [
    "FeedbackStore",
    "PendingAnswer",
    "RecordOutcome",
    "Sample",
    "Status",
    "daily_limit_key",
    "is_label",
    "outcome_message",
    "salted_user_hash",
    "user_samples_key",
]
