"""Measurements of digitbot against its quality bars: model call, queue overhead, photo
decoding, one worker draining a queue, training time, and a load test of the whole stack on
loopback.

    python -m benchmarks --quick                 # the suite, small counts
    python -m benchmarks --write BENCHMARKS.md   # the suite, results into BENCHMARKS.md
    python -m benchmarks.queue_drain --photos 300   # photos/s of one worker draining a queue
    python -m benchmarks.loadtest --rate 20 --duration 30 --workers 1,2,4
"""
