"""Everything digitbot says to people (Telegram users, web visitors, operators), in one place.

Log messages stay beside the code that logs them; these are the sentences a person reads. The
bot, the workers and the web page say the same thing in the same situation, so a situation has
one text here, and figures such as size limits come from digitbot.defaults. Templates name their
fields (`{label}`); callers fill them with str.format.

Imports nothing but digitbot.defaults: digitbot.errors and the CLI import this module.
"""

from __future__ import annotations

from digitbot import defaults

_MAX_MB = f"{defaults.MAX_DOWNLOAD_BYTES / 2**20:g} MB"
_MAX_MEGAPIXELS = f"{defaults.MAX_IMAGE_PIXELS / 1e6:g} megapixels"
_MAX_FULL_MEGAPIXELS = f"{defaults.MAX_FULL_DECODE_PIXELS / 1e6:g} megapixels"
# What people send, in the words they know (reading.decode.ACCEPTED_FORMATS is the full list).
_PHOTO_FORMATS = "JPEG, PNG, HEIC, WebP or GIF"

# --- Telegram: greeting, help, messages that are not a photo ---

START = (
    "Hi! I read handwritten digits.\n\n"
    "Send me a photo of a digit or a short number written on paper (or on a board), and I'll "
    "answer with what I read and how sure I am.\n\nType /help for tips."
)
HELP = (
    "How to use me:\n"
    f"• Write a digit or a number (up to {defaults.MAX_DIGITS} digits) on paper, dark pen on "
    "light paper works best.\n"
    "• Take a photo so the writing fills a good part of the picture, and send it as a photo "
    "or as an image file (an iPhone's HEIC files work too).\n"
    '• I answer like this: "42 — 98.7% sure".\n'
    "• Several photos sent together (an album) get one answer, a line per photo.\n"
    "• Wrong? Press ✏️ under my answer, or reply to it with the right number.\n\n"
    'Example: photograph a sticky note with 7 on it → I reply "7 — 99.3% sure".\n\n'
    "Commands: /start, /help, /stats (which model answers and how busy I am)."
)
ADMIN_HELP = (
    "\n\nFor operators:\n"
    "• /retrain: train a new model now; I report how it goes here.\n"
    "• /feedback: counts, recent corrections (with the user's hash), accuracy on corrections.\n"
    "• /review: corrections held for review, with accept/reject buttons.\n"
    "• /exclude <user>: keep a user's samples out of training (the first "
    f"{defaults.USER_HASH_SHOWN} or more characters of the hash that /feedback or /review "
    "shows); /include <user> lifts it."
)
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
UNKNOWN_BUTTON = "That button doesn't work any more. Send the photo again if you like."

# --- Taking a photo in (the bot and the web page) ---

TELEGRAM_FILE_TOO_LARGE = (
    f"That file is larger than {_MAX_MB}, the most a Telegram bot may download. Please send it "
    "as a photo (Telegram compresses it) or a smaller file."
)
DOWNLOAD_FAILED = "I couldn't download your file from Telegram. Please send it again."
QUEUE_DOWN = (
    "I can't reach my work queue right now, so I couldn't take your photo. "
    "Please send it again in a minute."
)
BUSY = "Too many photos are waiting to be read right now. Please try again in a minute."
SLOW_DOWN = (
    "You're sending photos faster than I can read them. Please wait a minute, then send the "
    "ones I haven't answered again."
)
NO_IMAGE = "There was no image in the request. Draw a digit or choose a photo first."
JSON_ONLY = 'Send JSON, like {"label": "42"}.'
UNKNOWN_REQUEST = "No such request: it is unknown or its result has expired."
SERVICE_DOWN = "The service is unavailable for a moment. Please try again shortly."

# --- Images that cannot be read (digitbot.errors) ---

INTERNAL_ERROR = "Something went wrong on my side. Please try again in a minute."
BAD_IMAGE = f"I couldn't read that image. Please send a photo ({_PHOTO_FORMATS}) of a digit."
NOT_AN_IMAGE = (
    f"That file isn't an image I can read. Please send a photo ({_PHOTO_FORMATS}) of a "
    "handwritten digit."
)
CORRUPT_IMAGE = (
    "That image seems damaged or incomplete, so I couldn't read it. Please send it again."
)
IMAGE_TOO_LARGE = (
    f"That image is too large for me to read. Please send a photo under {_MAX_MB} and "
    f"{_MAX_MEGAPIXELS}."
)
IMAGE_TOO_MANY_PIXELS = (
    "That image has too many pixels for me to read in its format. Please send it as a JPEG "
    f"photo, or under {_MAX_FULL_MEGAPIXELS}."
)

# --- Answers (the workers) ---

NO_DIGIT = "I don't see a digit here. Try a closer photo of one handwritten number on plain paper."
ANSWER = "{digits} — {percent} sure"
UNSURE = "I'm not sure about this one; a closer, sharper photo helps."
LOST_PHOTO = "Sorry, I lost track of your photo before I could read it. Please send it again."
# An album (photos sent together) is answered in one message, a line per photo in order.
ALBUM_LINE = "Photo {number}: {answer}"
ALBUM_NO_DIGIT = "no digit found"
ALBUM_LOST_PHOTO = "lost before I could read it; please send it again"
JOB_FAILED = (
    "Sorry, I couldn't read your image because of a problem on my side. "
    "Please send it again in a minute."
)

# --- "How I read it" ---

EXPLAINING = "Drawing how I read it…"
EXPLAIN_PENDING = "Already on it."
EXPLAIN_EXPIRED = (
    "I no longer keep that photo (photos are deleted a few hours after the answer), so I can't "
    "show how I read it. Send it again to get a fresh reading."
)

# --- Buttons (digitbot.buttons lays them out) ---

RIGHT_BUTTON = "✅ right"
CORRECT_BUTTON = "✏️ correct it"
EXPLAIN_BUTTON = "🔍 How I read it"
POSITION_BUTTON = "digit {number}: {digit}  ✏️"
SAVE_BUTTON = "✔ save {digits}"
TYPE_BUTTON = "⌨️ type it"
# Under an album's answer, per photo: its number, then what the button does.
ALBUM_RIGHT_BUTTON = "{number} ✅"
ALBUM_CORRECT_BUTTON = "{number} ✏️"
ALBUM_EXPLAIN_BUTTON = "{number} 🔍"
# Opens the correction keyboard for one photo of an album, in a message of its own.
ALBUM_CORRECTING = "Photo {number}: {digits}"
ACCEPT_BUTTON = "accept"
REJECT_BUTTON = "reject"

# --- Confirmations and corrections ---

RECORDED_RIGHT = "✅ Thanks, recorded as right."
RECORDED_CORRECTION = "✏️ Corrected to {label} — thanks, recorded. It helps the next model."
HELD_CORRECTION = (
    "✏️ Noted: {label}. I was quite sure of my reading, so a person will review this before it "
    "is used for training."
)
FEEDBACK_LIMITED = "Thanks! You've sent a lot of corrections today; please try again tomorrow."
FEEDBACK_INVALID = (
    "That can't be recorded for this answer: only its sender can correct it, with a number of "
    f"1 to {defaults.MAX_DIGITS} digits."
)
FEEDBACK_EXPIRED = "This answer is too old to correct now. Send the photo again if you like."
TYPE_CORRECTION = (
    "Type the right number, digits only (as many as you wrote), and I'll record it. Replying to "
    "my answer with the number works too."
)
# A number sent as a reply to an answer that reads several photos (an album).
REPLY_TO_ALBUM = (
    "That answer reads several photos, so I can't tell which one you mean: press ✏️ beside "
    "the photo's number instead."
)
FORGOTTEN = "Done: I deleted everything I kept from you ({count} samples)."
PRIVACY = (
    "What I keep:\n"
    '• Your photo: only until it is answered and for a few hours after, to draw "how I read '
    'it"; then it is deleted. It is never used for training.\n'
    "• When you press ✅ or ✏️: the small 28×28 digit images I made from your photo, the right "
    "answer, which model answered, the time, and a salted hash of your Telegram id (not your "
    "id, never your name). These train the next models and expire after a year.\n"
    "• /forget deletes all of it at once."
)

# --- /stats ---

STATS_MODEL = "Model: {version} ({arch}), {accuracy}."
STATS_MODEL_ACCURACY = "{percent:.2f}% on the MNIST test set"
STATS_ACCURACY_UNKNOWN = "accuracy unknown"
STATS_NO_MODEL = "Model: none loaded yet."
STATS_QUEUES = "Photos waiting: {photos}; training jobs waiting: {training}."
STATS_QUEUES_DOWN = "Queue: unreachable right now."

# --- Operators ---

ADMIN_ONLY = "Sorry, that command is for the bot's operators."
RETRAIN_REFUSED = (
    "Sorry, only the bot's operators can start a retraining. Your corrections still help: "
    "they go into the next scheduled one."
)
RETRAIN_QUEUED = (
    "Retraining queued. I'll tell you here when it starts, how it goes, and whether the new "
    "model is promoted."
)
RETRAIN_QUEUED_ON_PAGE = "Retraining queued. The status page shows its outcome when it ends."
RETRAIN_ALREADY = "A retraining is already {status}; I won't start a second one."
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
REVIEW_ITEM = "Model {version} read {predicted}; user {user} says {label}."
REVIEW_DONE = "done"
REVIEW_ALREADY_DONE = "already reviewed"
REVIEW_ACCEPTED = "Accepted sample {sample}."
REVIEW_REJECTED = "Rejected sample {sample}."
