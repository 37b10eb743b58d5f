"""Live runs: RTSP cameras until stopped (``rtsp.run_cameras``), rotated CSVs, metrics, redaction."""
