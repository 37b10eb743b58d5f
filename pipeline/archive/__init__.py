"""Archive runs: ``facelog batch``: discovery, resumable state, executors, the camera/day report."""
