"""sweepcache's benchmark suite: ``python -m bench`` (``make bench``).

One module per performance target; each measures sweepcache, the bare
floor, the seed design and the Python peers side by side in one run, and
reports ratios, so that results from different machines stay comparable.
Peers are optional: a missing one is reported as "n/a (not installed)".

=====================  ==========================================================
module                 measures
=====================  ==========================================================
``bench_hotpath``      per-op latency: get hit/miss, set new/overwrite, delete
``bench_contention``   N concurrent tasks on Zipf keys: throughput, p50/p99
``bench_stampede``     1,000 concurrent misses on 100 keys with a 20 ms loader
``bench_threads``      threads x shards on the sync fast path
``bench_sweeper``      event-loop stalls and reclaim time with 1M keys expiring
``bench_memory``       bytes per entry, RSS under churn with and without a sweeper
``bench_eviction``     hit ratio by workload and size vs peers, LRU and Belady
=====================  ==========================================================
"""
