"""UC7 genomics-pipeline: FASTQ, BAM and VCF quality control over files on FSx for ONTAP.

Per file (``genomics_pipeline.qc``): FASTQ (plain or gzip, streamed) gets read, base, GC, quality,
Q30, N and length statistics; BAM only its header (references, read groups) from the first BGZF
blocks; VCF (plain or BGZF) variant counts by type, Ts/Tv and per-sample genotypes. Per run
(``genomics_pipeline.summary``): the results become dataset tables, Athena summarises them, and the
shared report step (``genomics_pipeline.report``) writes the run's report.
"""
