"""Everything the bot says to users, kept apart from log messages."""

from digitbot.feedback import RecordOutcome

START = (
    "Hi! I read handwritten digits.\n\n"
    "Send me a photo of a digit or a short number written on paper (or on a board), and I'll "
    "answer with what I read and how sure I am.\n\nType /help for tips."
)
HELP = (
    "How to use me:\n"
    "• Write a digit or a number (up to 8 digits) on paper, dark pen on light paper works best.\n"
    "• Take a photo so the writing fills a good part of the picture, and send it as a photo "
    "or as an image file.\n"
    '• I answer like this: "42 — 98.7% sure".\n\n'
    'Example: photograph a sticky note with 7 on it → I reply "7 — 99.3% sure".\n\n'
    "Commands: /start, /help, /stats (which model answers and how busy I am)."
)
ADMIN_HELP = (
    "\n\nFor operators:\n"
    "• /retrain: train a new model now; I report how it goes here.\n"
    "• /feedback: counts, recent corrections (with the user's hash), accuracy on corrections.\n"
    "• /review: corrections held for review, with accept/reject buttons.\n"
    "• /exclude <user>: keep a user's samples out of training (the first 8 or more characters "
    "of the hash that /feedback or /review shows); /include <user> lifts it."
)
READING = "Reading your digits…"
TEXT_INSTEAD_OF_PHOTO = (
    "I read handwriting from photos, not typed text. Send me a photo of a handwritten digit "
    "or number (see /help)."
)
STICKER = "Nice sticker! I can only read handwritten digits, though: send me a photo of one."
MEDIA = (
    "I can't read voice, audio, video or animations. Send me a still photo of a handwritten "
    "digit instead."
)
UNKNOWN_COMMAND = "I don't know that command. Try /help."
OTHER = "I only read photos of handwritten digits. Send me one (see /help)."
TOO_LARGE = (
    "That file is larger than 20 MB, the most a Telegram bot may download. Please send it as a "
    "photo (Telegram compresses it) or a smaller file."
)
QUEUE_DOWN = (
    "I can't reach my work queue right now, so I couldn't take your photo. "
    "Please send it again in a minute."
)
BUSY = "I'm very busy right now. Please send your photo again in a minute."
DOWNLOAD_FAILED = "I couldn't download your file from Telegram. Please send it again."
INTERNAL_ERROR = "Something went wrong on my side. Please try again in a minute."
EXPLAINING = "Drawing how I read it…"
EXPLAIN_PENDING = "Already on it."
EXPLAIN_GONE = "That answer is too old to explain."
RETRAIN_REFUSED = (
    "Sorry, only the bot's operators can start a retraining. Your corrections still help: "
    "they go into the next scheduled one."
)
RETRAIN_QUEUED = (
    "Retraining queued. I'll tell you here when it starts, how it goes, and whether the new "
    "model is promoted."
)
RETRAIN_ALREADY = "A retraining is already {status}; I won't start a second one."
RECORDED_RIGHT = "✅ Thanks, recorded as right."
RECORDED_CORRECTION = "✏️ Corrected to {} — thanks, recorded. It helps the next model."
HELD_CORRECTION = (
    "✏️ Noted: {}. I was quite sure of my reading, so a person will review this before it "
    "is used for training."
)
FEEDBACK_LIMITED = "Thanks! You've sent a lot of corrections today; please try again tomorrow."
FEEDBACK_INVALID = "That doesn't fit this answer (only the sender can correct it, digit for digit)."
FEEDBACK_EXPIRED = "This answer is too old to correct now. Send the photo again if you like."
TYPE_CORRECTION = "Type the right number (digits only), and I'll record it."
FORGOTTEN = "Done: I deleted everything I kept from you ({} samples)."
PRIVACY = (
    "What I keep:\n"
    '• Your photo: only until it is answered and for a few hours after, to draw "how I read '
    'it"; then it is deleted. It is never used for training.\n'
    "• When you press ✅ or ✏️: the small 28×28 digit images I made from your photo, the right "
    "answer, which model answered, the time, and a salted hash of your Telegram id (not your "
    "id, never your name). These train the next models and expire after a year.\n"
    "• /forget deletes all of it at once."
)
ADMIN_ONLY = "Sorry, that command is for the bot's operators."
USER_USAGE = (
    "Say which user: /{command} <user>, with at least {min_chars} characters of the user's "
    "hash as /feedback or /review shows it."
)
NO_SUCH_USER = "No stored user's hash starts with {prefix}."
AMBIGUOUS_USER = "{count} users' hashes start with {prefix}; give more characters."
USER_EXCLUDED = (
    "User {user} is excluded: {count} samples are kept out of training, and so will be "
    "anything they send. /include {user} lifts it."
)
USER_INCLUDED = "User {user} is included again: {count} samples got their status back."
NOTHING_HELD = "No corrections are waiting for review."
SLOW_DOWN = (
    "You're sending photos faster than I can read them. Please wait a minute, then send the "
    "ones I haven't answered again."
)


def feedback_outcome(outcome: str, label: str, *, confirmed: bool = False) -> str:
    """What to tell a user after pressing ✅ or ✏️ (the bot and the web page say the same)."""
    if outcome == RecordOutcome.RECORDED:
        return RECORDED_RIGHT if confirmed else RECORDED_CORRECTION.format(label)
    if outcome == RecordOutcome.HELD:
        return HELD_CORRECTION.format(label)
    if outcome == RecordOutcome.LIMITED:
        return FEEDBACK_LIMITED
    if outcome == RecordOutcome.INVALID:
        return FEEDBACK_INVALID
    return FEEDBACK_EXPIRED
