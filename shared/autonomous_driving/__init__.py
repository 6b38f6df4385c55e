"""UC9 autonomous driving: the domain code behind the handlers (video, point-cloud QC, segmentation,
annotations), as plain functions the handlers and the tests call."""
