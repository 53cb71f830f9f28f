"""Measurements of digitbot against its quality bars: model call, queue overhead, photo
decoding, one worker draining a queue, training time, and a load test of the whole stack on
loopback.

    python -m benchmarks --quick                 # the suite, small counts
    python -m benchmarks --write BENCHMARKS.md   # the suite, results into BENCHMARKS.md
    python -m benchmarks.queue_drain --photos 300   # photos/s of one worker draining a queue
    python -m benchmarks.photo_profile --baseline 35d6d5b   # where preprocessing's time goes
    python -m benchmarks.same_answers check FILE    # same readings, photo by photo, as recorded
    python -m benchmarks.loadtest --rate 20 --duration 30 --workers 1,2,4
"""
