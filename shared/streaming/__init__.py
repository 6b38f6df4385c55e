"""The streaming skeleton: change detection, the Kinesis hand-off and the per-file consumer.

Any use case whose processing is per file switches it on with ``EnableStreamingMode``. The use
case supplies only its listing filter (through the producer's environment) and its per-file
processor (handed to :func:`shared.streaming.consumer.consume_batch`); everything else lives here:

* :mod:`shared.streaming.changes`: the sorted-manifest merge-diff, sharded by top-level prefix;
* :mod:`shared.streaming.kinesis`: partition keys and PutRecords that loses nothing;
* :mod:`shared.streaming.producer`: one producer cycle, configured from the environment;
* :mod:`shared.streaming.consumer`: claims conditioned on the fingerprint, dead letters, outcomes.

The state and dead-letter tables (:mod:`shared.state`) and the change-event format
(:mod:`shared.change_events`) stay outside the package: the polling path reads and writes them too.
Nothing is imported here, so a consumer's cold start does not pay for the producer's modules.
"""
