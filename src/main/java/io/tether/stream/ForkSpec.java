package io.tether.stream;

/**
 * A fork request: inherit {@code source}'s data up to {@code offset} (its tail when {@code null}) plus
 * {@code subOffset} bytes (or, for JSON streams, messages) of the event that starts there.
 */
public record ForkSpec(String source, Offset offset, long subOffset) {

  public ForkSpec {
    if (subOffset < 0) {
      throw new IllegalArgumentException("sub-offset must not be negative");
    }
    if (subOffset > 0 && offset == null) {
      throw new IllegalArgumentException("a sub-offset needs Stream-Fork-Offset");
    }
  }
}
