"""What the file and live readers do to a decoded frame before detection, so that it is the picture a
player shows: interlaced frames reduced to one field (``interlace``), frames of non-square pixels
resized (``aspect``)."""
