"""Every tunable of digitbot as a named constant; settings and call sites may override them."""

# Queues. Recognition jobs are short (tens of ms); training jobs are long and live apart so a
# retraining never delays an answer.
QUEUE_RECOGNITION = "recognition"
QUEUE_TRAINING = "training"

# RQ's JSON serializer: jobs carry plain data only, so no pickle from the queue is ever loaded.
JOB_SERIALIZER = "rq.serializers.JSONSerializer"

# A recognition job must stay short: SimpleWorker sends no heartbeat while it runs.
RECOGNITION_JOB_TIMEOUT_SECONDS = 60
# Tries after the first one, and the waits between them (seconds).
RECOGNITION_RETRY_INTERVALS = (1, 5, 15)
# How long a finished job's result stays in Redis (seconds).
RESULT_TTL_SECONDS = 3600
FAILURE_TTL_SECONDS = 7 * 24 * 3600

# Uploaded image bytes wait for a worker under a Redis key with this TTL (seconds).
PHOTO_TTL_SECONDS = 6 * 3600
# An album (photos sent together) arrives as one update per photo with nothing marking the last:
# it is answered once no photo of it came for this long, or at once when the chat sends anything
# else (seconds). Settings.album_wait_seconds (DIGITBOT_ALBUM_WAIT_SECONDS) overrides it.
ALBUM_WAIT_SECONDS = 2.0

# Marks that a photo was answered, so a retried job never answers twice (seconds).
ANSWER_MARK_TTL_SECONDS = 7 * 24 * 3600
# While an attempt sends an answer it holds the mark as a lease for this long, renewed every
# third of it (worker.delivery). A dead attempt's lease lapses within it, and only then may a
# retry send: the longest a photo waits after its worker died in the middle of sending.
ANSWER_SENDING_TTL_SECONDS = 10
# How often a job finding another attempt sending its answer looks again, each time when that
# lease would lapse: more than enough to outlast a live sender, which the job timeout stops.
ANSWER_IN_FLIGHT_RETRIES = 20

# An answer the Bot API could not take (down, 5xx, flood control on every try) is sent again by a
# delivery job of its own after each of these waits (seconds), without reading the photo again:
# growing waits, 70 minutes in all, so an outage of an hour still ends with the answer. The bot
# waits the same way before it fetches a photo again whose download failed for such a reason.
# Settings.delivery_retry_seconds (DIGITBOT_DELIVERY_RETRY_SECONDS) overrides them.
DELIVERY_RETRY_SECONDS = (5, 10, 20, 40, 80, 160, 300, 600, 600, 600, 600, 600, 600)
# Each try of a delivery job makes this many requests: the waits above do the backing off, and a
# worker is not kept sleeping while photos wait.
DELIVERY_ATTEMPTS_PER_TRY = 1

# The bot's journal of fetched updates (bot.update_journal) keeps them this long (seconds):
# longer than Telegram keeps an update it was not told about (24 h), shorter than the week of
# silence after which Telegram may start its update ids afresh.
UPDATE_JOURNAL_TTL_SECONDS = 2 * 24 * 3600

# Telegram's own limit for files a bot may download.
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
# Decoding limits: more pixels than this is refused as a possible decompression bomb.
MAX_IMAGE_PIXELS = 50_000_000
# Formats decoded at full size (PNG, HEIC, WebP...; JPEG is decoded reduced) are refused over this
# many pixels, which bounds a decode's memory (about 10 bytes a pixel at worst, RGBA) while a
# 24-megapixel phone photo still passes.
MAX_FULL_DECODE_PIXELS = 25_000_000
# Photos are downscaled early so the longest side is at most this many pixels.
WORKING_MAX_SIDE = 1024

# Sending answers through the Bot API.
TELEGRAM_CONNECT_TIMEOUT_SECONDS = 5.0
TELEGRAM_READ_TIMEOUT_SECONDS = 30.0
TELEGRAM_MAX_ATTEMPTS = 5
TELEGRAM_MAX_RETRY_AFTER_SECONDS = 30.0
# Waits between a worker's tries to send an answer (seconds); the last one repeats.
TELEGRAM_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0)
# Tries the bot makes to download a photo from the Bot API.
TELEGRAM_DOWNLOAD_ATTEMPTS = 4

# Photos one Telegram user may send per minute before being asked to slow down.
PHOTOS_PER_USER_PER_MINUTE = 20
# Photos waiting in the recognition queue above which the bot answers "busy, try again".
MAX_QUEUE_DEPTH = 2000

# Liveness: the bot and the scheduler refresh a heartbeat key this often, with this TTL, and
# `digitbot healthcheck` reads a missing key as a dead process (seconds).
HEARTBEAT_SECONDS = 15
HEARTBEAT_TTL_SECONDS = 60

# Below this overall confidence the answer says it is unsure.
CONFIDENCE_UNSURE = 0.6

# Embedded Redis for `digitbot up`.
EMBEDDED_REDIS_HOST = "127.0.0.1"
EMBEDDED_REDIS_PORT = 6399
WEB_PORT = 8000
# Uploads one web client (address) may send per minute.
WEB_UPLOADS_PER_MINUTE = 30

# Workers: compute threads per worker process (scale with processes instead).
COMPUTE_THREADS = 1

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org/bot"
DEFAULT_TELEGRAM_FILE_API_URL = "https://api.telegram.org/file/bot"

# Retraining.
RETRAIN_CRON = "0 3 * * 0"  # Sundays at 03:00 (server time)
RETRAIN_JOB_TIMEOUT_SECONDS = 3 * 3600
RETRAIN_AFTER_CORRECTIONS = 200  # an automatic retraining once this many new corrections arrived
SCHEDULER_POLL_SECONDS = 5.0

# Feedback (user corrections).
FEEDBACK_RETENTION_DAYS = 365
PENDING_ANSWER_TTL_SECONDS = 48 * 3600  # how long an answer can be confirmed or corrected
CORRECTIONS_PER_USER_PER_DAY = 50
# The web page's visitors are cookies, which anyone can clear for a fresh daily count; the
# address they come from keeps one too, with room for a few people behind one router.
WEB_CORRECTIONS_PER_ADDRESS_PER_DAY = 4 * CORRECTIONS_PER_USER_PER_DAY
# A correction that contradicts a champion at least this sure is held for review.
REVIEW_CONFIDENCE = 0.98
# Operators name a user by this many leading characters of the user's salted hash.
USER_HASH_SHOWN = 8
# The longest number a photo is read as; more marks in a row are taken for text, not a number.
MAX_DIGITS = 8
# The model's 11th class, "not a digit", follows the ten digits.
NOT_A_DIGIT = 10

# A retraining adds crops read from rendered photos, as the shipped model was trained
# (training/photo_crops.py): this many photos of MNIST training digits, of non-digits, of
# digits at low resolution, and of 1s and 7s in continental handwriting (the recipe of the
# shipped model's last training: BENCHMARKS.md, "Reading what we did not draw").
RETRAIN_PHOTO_DIGITS = 8_000
RETRAIN_PHOTO_NEGATIVES = 6_000
RETRAIN_PHOTO_LOW_RESOLUTION = 4_000
RETRAIN_PHOTO_STYLED = 800
# Pictures from the second training world (training.placed_digits): digits placed as they are,
# and non-digits or empty pictures made the same way.
RETRAIN_PLACED_DIGITS = 6_000
RETRAIN_PLACED_NEGATIVES = 5_000
# The promotion gates render this many photos per set to compare candidate and champion.
GATE_PHOTOS_PER_SET = 100
