"""The dotted paths of every function a digitbot worker may run, and nothing else.

RQ imports and calls whatever function a job names, so anyone who can write to Redis could run
any importable function in a worker (`os.getenv` with the bot token's name, say). Workers check
each job against these lists before resolving its function (worker.rq_worker.AllowListedJob);
enqueue by these names, and add a new job function here, or workers refuse it.
"""

from __future__ import annotations

# Job functions.
RECOGNIZE_PHOTO = "worker.jobs.recognize_photo"
# Reads the photos of one album and answers them in one message (worker.albums).
RECOGNIZE_ALBUM = "worker.albums.recognize_album"
EXPLAIN_PHOTO = "worker.jobs.explain_photo"
# Sends an answer already read, later: the Bot API could not take it (worker.redelivery).
DELIVER_ANSWER = "worker.jobs.deliver_answer"
RETRAIN = "training.jobs.retrain"
# What RQ itself costs per job (`digitbot bench`, drained by a DigitWorker); it returns a size.
BENCHMARK_NOOP = "benchmarks.noop.noop"

# Callbacks (on_success / on_failure / on_stopped), resolved by dotted path too.
ON_RECOGNITION_FAILURE = "worker.jobs.on_recognition_failure"
ON_ALBUM_FAILURE = "worker.albums.on_album_failure"

JOB_FUNCTIONS: frozenset[str] = frozenset(
    {RECOGNIZE_PHOTO, RECOGNIZE_ALBUM, EXPLAIN_PHOTO, DELIVER_ANSWER, RETRAIN, BENCHMARK_NOOP}
)
JOB_CALLBACKS: frozenset[str] = frozenset({ON_RECOGNITION_FAILURE, ON_ALBUM_FAILURE})
