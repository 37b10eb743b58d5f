"""File runs: one video file -> CSV + run summary (``process.process_video``), optional annotated mp4."""
