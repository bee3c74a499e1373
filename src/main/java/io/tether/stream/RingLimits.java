package io.tether.stream;

/** Bounds of a stream's ring buffer, fixed when the stream is created. */
public record RingLimits(int maxEvents, long maxBytes) {

  public RingLimits {
    if (maxEvents < 1 || maxBytes < 1) {
      throw new IllegalArgumentException("ring limits must be positive");
    }
  }
}
