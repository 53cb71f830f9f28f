"""Measurements of digitbot against its quality bars: model call, queue overhead, photo
decoding, batching throughput, training time, and a load test of the whole stack on loopback.

    python -m benchmarks --quick                 # the suite, small counts
    python -m benchmarks --write BENCHMARKS.md   # the suite, results into BENCHMARKS.md
    python -m benchmarks.batch_throughput --photos 300   # batching on vs off, one worker
    python -m benchmarks.loadtest --rate 20 --duration 30 --workers 1,2,4
"""
