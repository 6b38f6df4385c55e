"""Format readers that more than one use case shares: images, point clouds, MP4 containers and CSV.

Each reader works on bytes with no AWS call and bounds the work it does by the function's memory or
a fixed cap, so every use case that meets the format gets the same limits. ``csvtable`` reads
delimited text (BOM, mixed line endings, malformed rows by line, typed header errors); what the
columns mean stays with the use case. ``samples`` holds the
matching writers, used by tests, demos and the bench, never by a function.

``ranged`` gives readers a seekable file object over an access point object (ranged GETs, a bounded
block cache, pinned to the listed ETag, bytes counted); ``gzstream`` decompresses multi-member gzip
and BGZF in bounded memory with typed errors that name the offset.
"""
